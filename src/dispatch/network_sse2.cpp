// The network on SSE2 kernels: the x86-64 baseline, compiled with no -m flag.
#include "arch_network_impl.hpp"

#if !XSIMD_WITH_SSE2
#error "network_sse2.cpp needs an x86-64 target"
#endif

template struct mobilenext::internal::ArchNetworkFactory<xsimd::sse2>;
