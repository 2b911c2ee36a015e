// Who stopped the job: a roll call through the rendezvous store after a collective fails
// (libtilt_dist.so, tilt_dist.cc). Included once, by tilt_dist.cc.
//
// A worker blocked in a collective cannot answer for itself: on Gloo it stays blocked until its own
// timeout. So every worker keeps a watcher thread, with a store connection of its own, that answers
// for it with how many collectives it has entered. After a failure, a rank that gives no answer is
// dead (or its whole process is frozen); a live rank that entered fewer collectives than the others
// is the one they wait for (hung, or slow, outside the collectives); the ranks waiting on it have
// entered as many as the most, and are not named. When a rank died, the live ones behind are most
// likely still computing their step (the death, not they, stopped the job): ai.tilt.dist.RollCall
// then names the dead alone. Before the watchers, a roll call at 4 or more Gloo workers named the
// ranks still waiting on a live one along with the one they waited for.
#pragma once

#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

std::string Key(const char* what, int rank) {
  return std::string("tilt/") + what + "/" + std::to_string(rank);
}

const char* const kRollCall = "tilt/rollcall";

std::vector<uint8_t> Bytes(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

// What a worker and its watcher thread share; the thread holds it too, so it outlives the worker's
// group while the thread finishes a store call.
struct WatchState {
  std::atomic<int64_t> entered{0};
  std::atomic<bool> stop{false};
  std::mutex mu;  // for the thread's sleep only, never held across a store call
  std::condition_variable cv;
};

// One worker's watcher: once a roll call is asked for, answers it at every poll with how many
// collectives the worker has entered by then, so that a later roll call reads fresh counts.
class Watcher {
 public:
  // connect makes the watcher's own connection to the store (the worker's may be blocked in a store
  // call), on the watcher's thread: a slow or failed connection neither holds nor fails the start
  Watcher(std::function<c10::intrusive_ptr<c10d::Store>()> connect, int rank, int world)
      : state_(std::make_shared<WatchState>()) {
    std::thread(Run, state_, std::move(connect), rank, world).detach();
  }

  // The thread ends at its next wake, or when its store call returns: a store whose host vanished
  // without closing the connection can hold a call for TCP's whole retransmission time, which a
  // worker's exit must not wait for.
  ~Watcher() {
    {
      std::lock_guard<std::mutex> l(state_->mu);  // else the wake can fall between check and wait
      state_->stop = true;
    }
    state_->cv.notify_all();
  }

  // Called as each collective starts, by the worker's thread. On NCCL that is when the collective
  // is queued, not when it runs: a count there says what a rank asked for.
  void Enter() { state_->entered.fetch_add(1, std::memory_order_relaxed); }

  int64_t Entered() const { return state_->entered.load(std::memory_order_relaxed); }

 private:
  // Sleeps ms unless told to stop; true when told.
  static bool Sleep(WatchState& s, int64_t ms) {
    std::unique_lock<std::mutex> l(s.mu);
    return s.cv.wait_for(l, std::chrono::milliseconds(ms), [&s] { return s.stop.load(); });
  }

  static void Run(std::shared_ptr<WatchState> s,
                  std::function<c10::intrusive_ptr<c10d::Store>()> connect, int rank, int world) {
    try {
      // every worker leaves the rendezvous at once: spread the connections, and the polls (one a
      // worker every half second up to 500 workers, then fewer, up to one in 2 s)
      std::mt19937 random(static_cast<uint32_t>(rank) * 2654435761u);
      if (Sleep(*s, std::uniform_int_distribution<int64_t>(0, std::min(world, 1000))(random))) {
        return;
      }
      c10::intrusive_ptr<c10d::Store> store = connect();
      const int64_t poll = std::clamp<int64_t>(world, 500, 2000);
      while (!Sleep(*s, poll)) {
        if (store->check({kRollCall})) {
          store->set(Key("answer", rank), Bytes(std::to_string(s->entered.load())));
        }
      }
    } catch (...) {
      // the store is gone (the job ended, or its host did) or never answered: nothing to watch
    }
  }

  std::shared_ptr<WatchState> state_;
};

// The watcher's own connection to the job's store, under torchrun's prefix if any.
std::function<c10::intrusive_ptr<c10d::Store>()> WatcherStore(std::string host, int port,
                                                               std::string prefix,
                                                               std::chrono::milliseconds timeout) {
  return [=]() -> c10::intrusive_ptr<c10d::Store> {
    c10d::TCPStoreOptions o;
    o.port = static_cast<uint16_t>(port);
    o.isServer = false;
    o.waitWorkers = false;
    o.timeout = timeout;
    c10::intrusive_ptr<c10d::Store> s = c10::make_intrusive<c10d::TCPStore>(host, o);
    if (!prefix.empty()) s = c10::make_intrusive<c10d::PrefixStore>(prefix, s);
    return s;
  };
}

// Asks every worker's watcher, answers for this rank, and waits up to waitMs for all answers.
// Returns the most collectives any rank entered on the first line, then one line per rank to name:
// "RANK ENTERED HOST", ENTERED -1 for a rank that gave no answer; a rank that answered with the most
// is left out.
std::string RollCall(c10d::Store& store, int rank, int world, int64_t entered, int64_t waitMs) {
  store.set(kRollCall, Bytes("1"));
  store.set(Key("answer", rank), Bytes(std::to_string(entered)));
  std::vector<std::string> keys;
  for (int r = 0; r < world; r++) keys.push_back(Key("answer", r));
  // one question a poll, whatever the number of workers: have all answered?
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(waitMs);
  while (!store.check(keys) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::vector<int64_t> answer(world, -1);
  for (int r = 0; r < world; r++) {
    if (store.check({keys[r]})) {
      std::vector<uint8_t> v = store.get(keys[r]);
      answer[r] = std::stoll(std::string(v.begin(), v.end()));
    }
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
