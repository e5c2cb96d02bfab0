#pragma once
// mobilenext: header-only CPU inference of the MobileNeXt image classifier.
//
//   #include <mobilenext/mobilenext.hpp>
//   mobilenext::Network net = mobilenext::Network::random({/*width*/ 1.0}, /*seed*/ 1);
//   mobilenext::Tensor logits = net.forward(mobilenext::Tensor::from_nchw(pixels, 1, 3, 224, 224));
#include "core/aligned_buffer.hpp"
#include "core/error.hpp"
#include "core/tensor.hpp"
#include "io/image_preprocess.hpp"
#include "io/model_file.hpp"
#include "io/npy.hpp"
#include "io/safetensors.hpp"
#include "kernels/kernel_sets.hpp"
#include "model/network.hpp"
#include "model/state_dict.hpp"
#include "model/topology.hpp"
#include "model/workspace.hpp"
#include "runtime/thread_pool.hpp"
