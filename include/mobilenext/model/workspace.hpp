#pragma once
// The mutable state of forward passes. The network is immutable and shared; each calling
// thread owns a Workspace (one forward pass at a time uses it): the activation buffers, one
// scratch area per intra-op thread, and the pool of those threads. Buffers grow to the largest
// input seen and are then reused, so a forward pass with a warm workspace allocates nothing.
#include <atomic>
#include <cstddef>
#include <vector>

#include "../core/aligned_buffer.hpp"
#include "../core/error.hpp"
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

    // Set for the duration of a forward pass: a second caller sharing the workspace would
    // resize and overwrite the buffers under the first (see WorkspaceClaim).
    std::atomic<bool> in_use{false};
};

namespace internal {

// Claims a workspace for one forward pass, or throws when another pass holds it. One atomic
// exchange per pass: nothing beside a forward pass.
class WorkspaceClaim {
public:
    explicit WorkspaceClaim(Workspace& ws) : ws_(ws) {
        if (ws_.in_use.exchange(true, std::memory_order_acquire))
            fail("Workspace: already in use by another forward pass; each calling thread needs a Workspace of its own");
    }
    ~WorkspaceClaim() { ws_.in_use.store(false, std::memory_order_release); }
    WorkspaceClaim(const WorkspaceClaim&) = delete;
    WorkspaceClaim& operator=(const WorkspaceClaim&) = delete;

private:
    Workspace& ws_;
};

}  // namespace internal

}  // namespace mobilenext
