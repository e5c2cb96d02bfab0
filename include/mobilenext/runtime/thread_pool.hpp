#pragma once
// Intra-op threading: a persistent pool of worker threads (Eigen's non-blocking pool, whose
// idle workers spin briefly before sleeping, so the many short parallel regions of one
// forward pass do not pay a wake-up each) and a static split of tasks over threads. The
// split depends only on the task count, and every task computes its outputs exactly as a
// single thread would, so results are bit-identical for any thread count.
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>

#define EIGEN_USE_THREADS
#include <unsupported/Eigen/CXX11/ThreadPool>

#include "../core/error.hpp"

namespace mobilenext {

class ThreadPool {
public:
    // `threads` counts the calling thread, which always takes a share: 1 means no workers.
    explicit ThreadPool(int threads = 1) : threads_(threads) {
        internal::check(threads >= 1 && threads <= 1024,
                        "ThreadPool: thread count must be in [1, 1024], found " + std::to_string(threads));
        if (threads > 1) pool_ = std::make_unique<Eigen::ThreadPool>(threads - 1);
    }

    int threads() const noexcept { return threads_; }

    // Calls fn(task, thread) for every task in [0, tasks); thread t in [0, threads) runs the
    // contiguous share [t * tasks / n, (t + 1) * tasks / n) with n = min(threads, tasks).
    // Returns when all are done. fn must not throw.
    template <class F>
    void run(int tasks, const F& fn) {
        const int n = std::min(threads_, tasks);
        if (n <= 1) {
            for (int task = 0; task < tasks; ++task) fn(task, 0);
            return;
        }
        // Workers get a pointer to this frame and their index: a closure small enough for
        // std::function's inline storage, so scheduling does not allocate.
        struct Job {
            const F* fn;
            int tasks, n;
            std::atomic<int> pending;
            void share(int t) const {
                const int begin = int(long(t) * tasks / n), end = int(long(t + 1) * tasks / n);
                for (int task = begin; task < end; ++task) (*fn)(task, t);
            }
        } job{&fn, tasks, n, {n - 1}};
        for (int t = 1; t < n; ++t)
            pool_->Schedule([job = &job, t] {
                job->share(t);
                job->pending.fetch_sub(1, std::memory_order_release);
            });
        job.share(0);
        // The shares are balanced, so the wait is short: spin, then yield.
        for (int spins = 0; job.pending.load(std::memory_order_acquire) != 0; ++spins)
            if (spins > 4096) std::this_thread::yield();
    }

    // Calls fn(begin, end) on contiguous shares of [0, count), one per thread (min(threads,
    // count) of them), for work split by rows or pixels. Returns when all are done.
    template <class F>
    void run_shares(std::size_t count, const F& fn) {
        const std::size_t n = std::min(std::size_t(threads_), count);
        run(int(n), [&](int share, int) { fn(count * std::size_t(share) / n, count * std::size_t(share + 1) / n); });
    }

private:
    int threads_;
    std::unique_ptr<Eigen::ThreadPool> pool_;
};

// pool->run_shares(count, fn), or fn(0, count) on the calling thread when there is no pool.
template <class F>
void run_shares(ThreadPool* pool, std::size_t count, const F& fn) {
    if (pool != nullptr)
        pool->run_shares(count, fn);
    else
        fn(std::size_t(0), count);
}

}  // namespace mobilenext
