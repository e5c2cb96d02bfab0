#pragma once
// The mutable state of forward passes. The network is immutable and shared; each calling
// thread owns a Workspace (one forward pass at a time uses it): the activation buffers, one scratch area per intra-op thread, and
// the pool of those threads. Buffers grow to the largest input seen and are then reused, so a
// forward pass with a warm workspace allocates nothing.
#include <cstddef>
#include <vector>

#include "../core/aligned_buffer.hpp"
#include "../runtime/thread_pool.hpp"

namespace mobilenext {

class Workspace {
public:
    // `threads`: threads a forward pass uses (the caller's included).
    explicit Workspace(int threads = 1) : pool(threads), scratch(std::size_t(threads)) {}

    int threads() const noexcept { return pool.threads(); }

    // Bytes of buffers held now.
    std::size_t bytes() const {
        std::size_t floats = ping.capacity() + pong.capacity() + pooled.capacity() + layer_in.capacity() +
                             layer_hidden.capacity() + layer_out.capacity();
        for (const AlignedBuffer& s : scratch) floats += s.capacity();
        return floats * sizeof(float);
    }

    // Two alternating activation buffers (a block reads one and writes the other), the pooled
    // features, and per-thread scratch for the inside of a block.
    AlignedBuffer ping, pong, pooled;
    // Whole-image intermediates of blocks computed layer by layer across threads.
    AlignedBuffer layer_in, layer_hidden, layer_out;
    ThreadPool pool;
    std::vector<AlignedBuffer> scratch;
};

}  // namespace mobilenext
