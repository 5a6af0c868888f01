// The one file that knows how c10d differs between libtorch versions and
// builds (1.13: ProcessGroupGloo is a ProcessGroup; 2.x: a Backend, with
// TCPStore options that grew). Included only by src/dist/*.cpp. MA_WITH_GLOO
// (set by CMake when the Gloo headers are found) turns c10d on at all.
#pragma once
#ifdef MA_WITH_GLOO
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1  // what libtorch's own build defines to expose the Gloo group
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/version.h>
#ifdef MA_WITH_NCCL
#ifndef USE_C10D_NCCL
#define USE_C10D_NCCL 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <chrono>
#include <string>

namespace ma::dist::compat {

using Millis = std::chrono::milliseconds;

// Rank 0 serves; the others connect, retrying until `timeout`. (Who has
// arrived is counted by dist::connect itself, within the same timeout.)
inline c10::intrusive_ptr<c10d::Store> make_store(const std::string& host, int port, bool is_server, int world,
                                                  Millis timeout) {
  c10d::TCPStoreOptions o;
  o.port = static_cast<std::uint16_t>(port);
  o.isServer = is_server;
  o.numWorkers = static_cast<std::size_t>(world);
  o.waitWorkers = false;
  o.timeout = timeout;
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 2)
  o.useLibUV = false;  // the classic server, as 1.13 has it (same protocol either way)
#endif
  return c10::make_intrusive<c10d::TCPStore>(host, o);
}

// Gloo over TCP on `host`'s interface (loopback for a one-machine run), or
// GLOO_SOCKET_IFNAME's / the hostname's as PyTorch chooses by default.
inline c10::intrusive_ptr<c10d::ProcessGroupGloo> make_gloo(const c10::intrusive_ptr<c10d::Store>& store, int rank,
                                                            int world, Millis timeout, bool loopback) {
  auto opts = c10d::ProcessGroupGloo::Options::create(timeout);
  if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"))
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
  else if (loopback)
    opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  else
    opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  opts->threads = 2;  // collectives of one tensor at a time need no more
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank, world, opts);
}

#ifdef MA_WITH_NCCL
inline c10::intrusive_ptr<c10d::ProcessGroupNCCL> make_nccl(const c10::intrusive_ptr<c10d::Store>& store, int rank,
                                                            int world, Millis timeout) {
  auto opts = c10d::ProcessGroupNCCL::Options::create();
  opts->timeout = timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank, world, opts);
}
#endif

}  // namespace ma::dist::compat
#endif  // MA_WITH_GLOO
