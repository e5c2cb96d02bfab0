#pragma once
// The mutable state of one forward pass. The network is immutable and shared; each calling
// thread owns a Workspace. Buffers grow to the largest input seen and are then reused, so a
// forward pass with a warm workspace allocates nothing.
#include <cstddef>

#include "../core/aligned_buffer.hpp"

namespace mobilenext {

class Workspace {
public:
    Workspace() = default;

    // Bytes held now.
    std::size_t bytes() const {
        return (ping.capacity() + pong.capacity() + wide.capacity() + narrow.capacity() + pooled.capacity()) *
               sizeof(float);
    }

    // Two alternating activation buffers (a block reads one and writes the other), the wide and
    // narrow scratch inside a block, and the pooled features.
    AlignedBuffer ping, pong, wide, narrow, pooled;
};

}  // namespace mobilenext
