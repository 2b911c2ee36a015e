// Who stopped the job: a roll call through the rendezvous store after a collective fails
// (libtilt_dist.so, tilt_dist.cc). Included once, by tilt_dist.cc.
//
// A worker blocked in a collective cannot answer for itself: on Gloo it stays blocked until its own
// timeout. So every worker keeps a watcher thread, with a store connection of its own, that answers
// for it with how many collectives it has entered. After a failure, a rank that gives no answer is
// dead (or its whole process is frozen); a live rank that entered fewer collectives than the others
// is the one they wait for (hung, or slow, outside the collectives); the ranks waiting on it have
// entered as many as the most, and are not named. Before the watchers, a roll call at 4 or more Gloo
// workers named the ranks still waiting on a live one along with the one they waited for.
#pragma once

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

std::string Key(const char* what, int rank) {
  return std::string("tilt/") + what + "/" + std::to_string(rank);
}

const char* const kRollCall = "tilt/rollcall";

std::vector<uint8_t> Bytes(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

// One worker's watcher: polls the store for a roll call every PollMs and answers it once.
class Watcher {
 public:
  static constexpr int PollMs = 500;

  // store: a connection of the watcher's own (the worker's may be blocked in a store call)
  Watcher(c10::intrusive_ptr<c10d::Store> store, int rank) : store_(std::move(store)), rank_(rank) {
    thread_ = std::thread([this] { Run(); });
  }

  ~Watcher() {
    {
      std::lock_guard<std::mutex> l(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();  // at most one store call long: its connection's timeout is short
  }

  // Called as each collective starts, by the worker's thread.
  void Enter() { entered_.fetch_add(1, std::memory_order_relaxed); }

  int64_t Entered() const { return entered_.load(std::memory_order_relaxed); }

 private:
  void Run() {
    std::unique_lock<std::mutex> l(mu_);
    while (!cv_.wait_for(l, std::chrono::milliseconds(PollMs), [this] { return stop_; })) {
      try {
        if (store_->check({kRollCall})) {
          store_->set(Key("answer", rank_), Bytes(std::to_string(Entered())));
          return;  // one roll call a job: the job ends after it
        }
      } catch (const std::exception&) {
        return;  // the store is gone (rank 0 or the agent exited): nobody left to ask
      }
    }
  }

  c10::intrusive_ptr<c10d::Store> store_;
  const int rank_;
  std::atomic<int64_t> entered_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

// The watcher's own connection to the job's store (under torchrun's prefix, if any), with a short
// timeout so that a store whose host vanished holds the watcher, and the worker's exit, briefly.
c10::intrusive_ptr<c10d::Store> WatcherStore(const std::string& host, int port,
                                             const std::string& prefix) {
  c10d::TCPStoreOptions o;
  o.port = static_cast<uint16_t>(port);
  o.isServer = false;
  o.waitWorkers = false;
  o.timeout = std::chrono::milliseconds(3000);
  c10::intrusive_ptr<c10d::Store> s = c10::make_intrusive<c10d::TCPStore>(host, o);
  if (!prefix.empty()) s = c10::make_intrusive<c10d::PrefixStore>(prefix, s);
  return s;
}

// Asks every worker's watcher, answers for this rank, and waits up to waitMs for all answers.
// Returns the most collectives any rank entered on the first line, then one line per rank to name:
// "RANK ENTERED HOST", ENTERED -1 for a rank that gave no answer; a rank that answered with the most
// is left out.
std::string RollCall(c10d::Store& store, int rank, int world, int64_t entered, int64_t waitMs) {
  store.set(kRollCall, Bytes("1"));
  store.set(Key("answer", rank), Bytes(std::to_string(entered)));
  std::vector<int64_t> answer(world, -1);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(waitMs);
  for (int left = world;;) {
    for (int r = 0; r < world; r++) {
      if (answer[r] < 0 && store.check({Key("answer", r)})) {
        std::vector<uint8_t> v = store.get(Key("answer", r));
        answer[r] = std::stoll(std::string(v.begin(), v.end()));
        left--;
      }
    }
    if (left == 0 || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const int64_t most = *std::max_element(answer.begin(), answer.end());
  std::string out = std::to_string(most) + "\n";
  for (int r = 0; r < world; r++) {
    if (answer[r] == most) continue;
    std::string host = "host unknown";
    if (store.check({Key("host", r)})) {
      std::vector<uint8_t> v = store.get(Key("host", r));
      host.assign(v.begin(), v.end());
    }
    out += std::to_string(r) + " " + std::to_string(answer[r]) + " " + host + "\n";
  }
  return out;
}

}  // namespace
