// The network on NEON kernels: the AArch64 baseline, compiled with no -m flag.
#include "arch_network_impl.hpp"

#if !XSIMD_WITH_NEON64
#error "network_neon64.cpp needs an AArch64 target"
#endif

template struct mobilenext::internal::ArchNetworkFactory<xsimd::neon64>;
