// The network on AVX2+FMA kernels; compiled with -mavx2 -mfma (src/dispatch/CMakeLists.txt).
#include "arch_network_impl.hpp"

#if !XSIMD_WITH_FMA3_AVX2
#error "network_fma3_avx2.cpp must be compiled with -mavx2 -mfma"
#endif

template struct mobilenext::internal::ArchNetworkFactory<xsimd::fma3<xsimd::avx2>>;
