// The network on AVX-512 kernels; compiled with -mavx512f -mavx512bw -mavx512dq -mavx512cd
// -mavx2 -mfma (src/dispatch/CMakeLists.txt).
#include "arch_network_impl.hpp"

#if !XSIMD_WITH_AVX512BW
#error "network_avx512bw.cpp must be compiled with -mavx512f -mavx512bw -mavx512dq -mavx512cd"
#endif

template struct mobilenext::internal::ArchNetworkFactory<xsimd::avx512bw>;
