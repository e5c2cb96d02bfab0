#pragma once
// mobilenext: CPU inference of the MobileNeXt image classifier and SSDLite-MobileNeXt detector.
//
//   #include <mobilenext/mobilenext.hpp>
//   const mobilenext::Model model = mobilenext::Model::load("mobilenext.safetensors");
//   mobilenext::Tensor logits = model.forward(mobilenext::Tensor::from_nchw(pixels, 1, 3, 224, 224));
//
// Linked with mobilenext::mobilenext alone, the library is header-only and this header brings
// the model's code into the program. Linked with mobilenext::dispatch (MOBILENEXT_DISPATCH),
// the same declarations are served by the compiled library. The file formats
// (io/safetensors.hpp, io/npy.hpp) are separate headers.
#include "core/aligned_buffer.hpp"
#include "core/error.hpp"
#include "core/tensor.hpp"
#include "detection/detector.hpp"
#include "io/image_preprocess.hpp"
#include "model/forward_plan.hpp"
#include "model/model.hpp"
#include "model/random_weights.hpp"
#include "model/state_dict.hpp"
#include "model/topology.hpp"
#include "model/workspace.hpp"
#if !defined(MOBILENEXT_DISPATCH)
#include "model/model_definitions.hpp"
#include "detection/detector_definitions.hpp"
#endif
