// libtilt_dist.so: PyTorch c10d collectives on DJL's arrays, for Tilt's data parallelism
// (ai.tilt.dist.C10dGroup). A DJL array handle is a heap torch::Tensor* (DJL's
// pytorch-native/src/main/native/ai_djl_pytorch_jni_PyTorchLibrary_tensor.cc), so a copy of
// *handle shares the TensorImpl and its storage: collectives on it change DJL's arrays in place.
//
// Built by scripts/build-jni.sh beside DJL's JNI, against the headers of the libtorch that runs (the
// c10d C++ API changes between minor versions), and loaded after DJL's engine so that it binds to
// the libtorch_cpu.so DJL loaded. Gloo's headers, which no torch wheel ships, are vendored in
// gloo-include/ (BSD-3, LICENSE-gloo). Errors reach Java as ai.tilt.dist.DistException.
#include <jni.h>

#include <ATen/ATen.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#ifdef USE_C10D_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "rings.h"     // Gloo's reduce-scatter and all-gather
#include "rollcall.h"  // who stopped the job

namespace {

using Group = c10::intrusive_ptr<c10d::Backend>;

// What a group handle holds: the process group, the store it met through, which outlives a
// broken process group (a roll call after a failure goes through it), and the watcher that answers
// a roll call for this worker.
struct Job {
  Group group;
  c10::intrusive_ptr<c10d::Store> store;
  int rank;
  int world;
  std::unique_ptr<Watcher> watcher;
};

Job& J(jlong h) { return *reinterpret_cast<Job*>(h); }

// The group, for a collective that starts now: counted for the roll call.
Group& Start(jlong h) {
  J(h).watcher->Enter();
  return J(h).group;
}

at::Tensor T(jlong h) { return *reinterpret_cast<at::Tensor*>(h); }

std::vector<at::Tensor> Ts(JNIEnv* e, jlongArray a) {
  std::vector<jlong> h(e->GetArrayLength(a));
  e->GetLongArrayRegion(a, 0, static_cast<jsize>(h.size()), h.data());
  std::vector<at::Tensor> v;
  v.reserve(h.size());
  for (jlong p : h) v.push_back(T(p));
  return v;
}

std::string S(JNIEnv* e, jstring s) {
  const char* c = e->GetStringUTFChars(s, nullptr);
  std::string r(c);
  e->ReleaseStringUTFChars(s, c);
  return r;
}

// ThrowNew reads modified UTF-8, which has no 4-byte sequences: Gloo's messages end in an emoji,
// which came out as garbage in every "a worker died" error. Those sequences are dropped, and the
// emoji's variation selector (U+FE0F) with them.
void Throw(JNIEnv* e, const std::string& m) {
  std::string text;
  for (size_t i = 0; i < m.size();) {
    if (static_cast<unsigned char>(m[i]) >= 0xF0) {
      i += 4;
    } else if (m.compare(i, 3, "\xEF\xB8\x8F") == 0) {
      i += 3;
    } else {
      text += m[i++];
    }
  }
  jclass c = e->FindClass("ai/tilt/dist/DistException");
  if (c != nullptr) e->ThrowNew(c, text.c_str());
}

c10d::ReduceOp Op(jint op) {
  switch (op) {
    case 1: return c10d::ReduceOp::MAX;
    case 2: return c10d::ReduceOp::MIN;
    default: return c10d::ReduceOp::SUM;
  }
}

}  // namespace

#define JNI(ret, name, ...) \
  extern "C" JNIEXPORT ret JNICALL Java_ai_tilt_dist_NativeDist_##name(JNIEnv* env, jclass, __VA_ARGS__)
#define TRY \
  try {     \
    at::NoGradGuard no_grad;
#define CATCH(r)                               \
  }                                            \
  catch (const c10::Error& x) {                \
    Throw(env, x.what_without_backtrace());    \
    return r;                                  \
  }                                            \
  catch (const std::exception& x) {            \
    Throw(env, x.what());                      \
    return r;                                  \
  }

// The rendezvous and the group. storeServer: this process serves the TCPStore (rank 0 when Tilt
// launches the workers); false under torchrun's agent store, which every rank joins as a client
// under the prefix torch uses ("/worker/attempt_N").
JNI(jlong, init, jstring host, jint port, jint rank, jint world, jstring backend, jlong timeoutMs,
    jboolean storeServer, jstring prefix, jstring self) {
  TRY
  std::chrono::milliseconds timeout(timeoutMs);
  c10d::TCPStoreOptions so;
  so.port = static_cast<uint16_t>(port);
  so.isServer = storeServer;
  so.numWorkers = world;
  so.timeout = timeout;
  c10::intrusive_ptr<c10d::Store> store = c10::make_intrusive<c10d::TCPStore>(S(env, host), so);
  std::string p = S(env, prefix);
  if (!p.empty()) store = c10::make_intrusive<c10d::PrefixStore>(p, store);
  std::string me = S(env, self);  // this worker's host, for the others' messages
  store->set(Key("host", rank), Bytes(me));
  Group g;
  if (S(env, backend) == "nccl") {
#ifdef USE_C10D_NCCL
    auto o = c10d::ProcessGroupNCCL::Options::create();
    o->timeout = timeout;
    g = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, world, o);
#else
    throw std::runtime_error(
        "this libtilt_dist.so was built without NCCL: rebuild it against a CUDA libtorch "
        "(scripts/build-jni.sh --flavor cuda)");
#endif
  } else {
    auto o = c10d::ProcessGroupGloo::Options::create(timeout);
    const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");  // as torch.distributed reads it
    std::string h = S(env, host);
    if (ifname != nullptr) {  // one interface, or a comma-separated list of them
      std::string names(ifname);
      for (size_t at = 0; at <= names.size();) {
        size_t end = names.find(',', at);
        if (end == std::string::npos) end = names.size();
        if (end > at) {
          o->devices.push_back(
              c10d::ProcessGroupGloo::createDeviceForInterface(names.substr(at, end - at)));
        }
        at = end + 1;
      }
    } else if (h == "127.0.0.1" || h == "localhost") {
      o->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    } else {
      o->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    g = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world, o);
  }
  auto watcher = std::make_unique<Watcher>(WatcherStore(S(env, host), port, p, timeout), rank, world);
  return reinterpret_cast<jlong>(new Job{g, store, rank, world, std::move(watcher)});
  CATCH(0)
}

// After a collective failed: who stopped the job (rollcall.h). NCCL's abort first makes the peers
// still waiting on this rank fail at once (Gloo's is a no-op: their watchers answer for them).
JNI(jstring, rollCall, jlong h, jlong waitMs) {
  TRY
  Job& j = J(h);
  // copies: Java gives up on a roll call that hangs, and may destroy the group while this runs on
  c10::intrusive_ptr<c10d::Store> store = j.store;
  const int rank = j.rank, world = j.world;
  const int64_t entered = j.watcher->Entered();
  j.group->abort();
  std::string out = RollCall(*store, rank, world, entered, waitMs);
  return env->NewStringUTF(out.c_str());
  CATCH(nullptr)
}

// Sums every parameter's gradient across ranks, all collectives in flight at once: a gradient of at
// least bigBytes is all-reduced alone, in place (no copy); smaller ones share flat buckets of at most
// bucketBytes of one dtype, copied back after. A parameter without a gradient gets zeros first, so
// every rank sends the same layout (a rank whose share of the step was empty joins with zeros).
// Returns the sum over parameters, in their order, of each summed gradient's squared L2 norm,
// computed as the kernel Tilt runs alone does (squared_norm in scripts/make_kernels.py: one
// linalg_vector_norm per gradient, squared, added one by one in the gradients' dtype) while later
// collectives are still under way.
JNI(jfloat, allreduceGrads, jlong g, jlongArray params, jlong bucketBytes, jlong bigBytes) {
  TRY
  Group& pg = Start(g);
  std::vector<at::Tensor> grads;
  for (auto& p : Ts(env, params)) {
    if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
    grads.push_back(p.grad());
  }
  // work w covers members[w] (indices into grads); flat[w] is its bucket, or undefined in place
  std::vector<std::vector<size_t>> members;
  std::vector<at::Tensor> flats;
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  std::vector<size_t> open;
  int64_t bytes = 0;
  auto flush = [&]() {
    if (open.empty()) return;
    std::vector<at::Tensor> views;
    for (size_t i : open) views.push_back(grads[i].reshape(-1));
    std::vector<at::Tensor> one{at::cat(views)};
    works.push_back(pg->allreduce(one));
    flats.push_back(one[0]);
    members.push_back(open);
    open.clear();
    bytes = 0;
  };
  for (size_t i = 0; i < grads.size(); i++) {
    int64_t n = static_cast<int64_t>(grads[i].nbytes());
    if (n >= bigBytes && grads[i].is_contiguous()) {
      std::vector<at::Tensor> one{grads[i]};
      works.push_back(pg->allreduce(one));
      flats.push_back(at::Tensor());
      members.push_back({i});
      continue;
    }
    if (!open.empty() &&
        (bytes + n > bucketBytes || grads[open[0]].scalar_type() != grads[i].scalar_type())) {
      flush();
    }
    open.push_back(i);
    bytes += n;
  }
  flush();
  std::vector<at::Tensor> squares(grads.size());
  for (size_t w = 0; w < works.size(); w++) {
    works[w]->wait();
    int64_t off = 0;
    for (size_t i : members[w]) {
      if (flats[w].defined()) {
        grads[i].copy_(flats[w].narrow(0, off, grads[i].numel()).view_as(grads[i]));
        off += grads[i].numel();
      }
      at::Tensor n = at::linalg_vector_norm(grads[i]);
      squares[i] = n * n;
    }
  }
  at::Tensor total;
  for (auto& s : squares) total = total.defined() ? total + s : s;
  return total.defined() ? total.item<float>() : 0.0f;
  CATCH(0)
}

// In place, one call per tensor (c10d reads a vector as one tensor per local device): op 0 SUM,
// 1 MAX, 2 MIN.
JNI(void, allreduce, jlong g, jlongArray tensors, jint op) {
  TRY
  Group& pg = Start(g);
  c10d::AllreduceOptions o;
  o.reduceOp = Op(op);
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  for (auto& t : Ts(env, tensors)) {
    std::vector<at::Tensor> one{t};
    works.push_back(pg->allreduce(one, o));
  }
  for (auto& w : works) w->wait();
  CATCH()
}

JNI(void, broadcast, jlong g, jlongArray tensors, jint root) {
  TRY
  Group& pg = Start(g);
  c10d::BroadcastOptions o;
  o.rootRank = root;
  std::vector<c10::intrusive_ptr<c10d::Work>> works;
  for (auto& t : Ts(env, tensors)) {
    std::vector<at::Tensor> one{t};
    works.push_back(pg->broadcast(one, o));
  }
  for (auto& w : works) w->wait();
  CATCH()
}

// out (world * n) gets every rank's in (n), rank by rank; in may be out's slice of this rank
// (NCCL's all-gather is in place when the input is the output's slice of this rank).
JNI(void, allgather, jlong g, jlong out, jlong in) {
  TRY
  Group& pg = Start(g);
  at::Tensor o = T(out);
  at::Tensor i = T(in);
  if (pg->getBackendName() == "gloo") {
    RingAllGather(pg, o, i);
  } else {
    pg->_allgather_base(o, i)->wait();
  }
  CATCH()
}

// Lays the parameters' values and gradients end to end in flatParams and flatGrads (1-D, of their
// dtype and device, at least the parameters' total length): each parameter becomes a view of its
// slice of flatParams (set_data, as PyTorch's FSDP does, so DJL's handles and the autograd leaf stay
// the same tensor) and its gradient a view of its slice of flatGrads, which autograd's AccumulateGrad
// then adds into in place (as DDP's gradient_as_bucket_view). The collectives of ZeRO-1 then run on
// the flat vectors, with no copy in or out.
JNI(void, flatten, jlongArray params, jlong flatParams, jlong flatGrads) {
  TRY
  at::Tensor fp = T(flatParams);
  at::Tensor fg = T(flatGrads);
  std::vector<at::Tensor> ps = Ts(env, params);
  int64_t total = 0;
  for (size_t i = 0; i < ps.size(); i++) {  // every check before the first change
    const at::Tensor& p = ps[i];
    TORCH_CHECK(p.scalar_type() == fp.scalar_type() && p.device() == fp.device() &&
                    fg.scalar_type() == fp.scalar_type() && fg.device() == fp.device(),
                "flatten: weight ", i, " of ", p.scalar_type(), " on ", p.device(),
                " does not match the flat vectors");
    // a view's base keeps the old storage alive after set_data: the weight would be held twice
    TORCH_CHECK(!p.is_view(), "flatten: weight ", i, " is a view of another tensor");
    for (size_t k = 0; k < i; k++) {
      TORCH_CHECK(!ps[k].is_same(p), "flatten: weight ", i, " is weight ", k, " again");
    }
    total += p.numel();
  }
  TORCH_CHECK(total <= fp.numel() && total <= fg.numel(), "flatten: the flat vectors are short");
  int64_t at = 0;
  for (auto& p : ps) {
    const int64_t n = p.numel();
    at::Tensor value = fp.narrow(0, at, n).view(p.sizes());
    at::Tensor grad = fg.narrow(0, at, n).view(p.sizes());
    value.copy_(p);
    if (p.grad().defined()) {
      grad.copy_(p.grad());
    } else {
      grad.zero_();
    }
    p.set_data(value);
    p.mutable_grad() = grad;
    at += n;
  }
  CATCH()
}

// The index of the first parameter that is no longer the view flatten made of it, or of whose
// gradient that holds (something replaced its storage or gradient since), or -1 when all are.
JNI(jint, unflattened, jlongArray params, jlong flatParams, jlong flatGrads) {
  TRY
  at::Tensor fp = T(flatParams);
  at::Tensor fg = T(flatGrads);
  const int64_t size = static_cast<int64_t>(fp.element_size());
  const char* values = static_cast<const char*>(fp.data_ptr());
  const char* grads = static_cast<const char*>(fg.data_ptr());
  int64_t at = 0;
  jint i = 0;
  for (auto& p : Ts(env, params)) {
    const at::Tensor& g = p.grad();
    if (!g.defined()) return i;
    // an empty weight has no address to compare (its data_ptr is null)
    if (p.numel() > 0 &&
        (p.data_ptr() != values + at * size || g.data_ptr() != grads + at * size)) {
      return i;
    }
    at += p.numel();
    i++;
  }
  return -1;
  CATCH(-1)
}

// out (n) gets the sum over ranks of this rank's n-slice of in (world * n).
JNI(void, reduceScatter, jlong g, jlong out, jlong in) {
  TRY
  Group& pg = Start(g);
  at::Tensor o = T(out);
  at::Tensor i = T(in);
  if (pg->getBackendName() == "gloo") {
    RingReduceScatter(pg, o, i);
  } else {
    c10d::ReduceScatterOptions opts;
    opts.reduceOp = c10d::ReduceOp::SUM;
    pg->_reduce_scatter_base(o, i, opts)->wait();
  }
  CATCH()
}

JNI(void, barrier, jlong g) {
  TRY
  Group& pg = Start(g);
  pg->barrier()->wait();
  CATCH()
}

JNI(void, destroy, jlong g) {
  TRY
  std::unique_ptr<Job> job(reinterpret_cast<Job*>(g));  // deleted even when shutdown throws
  job->group->shutdown();
  CATCH()
}
