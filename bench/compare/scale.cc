// sluice alone on the comparison suite's workloads, for machines without the peers (the
// 16-core device machine): one JSON line per workload and capacity, like compare.
//
//   scale [--messages N] [--threads T]
#include <cstdio>
#include <string>

#include "compare/sluice_adapter.hpp"
#include "compare/workloads.hpp"

int main(int argc, char** argv) {
  using namespace compare;
  std::uint64_t n = 5'000'000;
  int t = 4;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--messages") n = std::stoull(argv[i + 1]);
    if (a == "--threads") t = std::stoi(argv[i + 1]);
  }
  auto emit = [&](const char* w, cap c, outcome o) {
    std::printf("{\"impl\": \"sluice\", \"workload\": \"%s\", \"cap\": \"%s\", \"threads\": %d, \"messages\": %llu, "
                "\"seconds\": %.6f, \"ok\": %s}\n",
                w, cap_name(c), t, static_cast<unsigned long long>(n), o.seconds, o.ok ? "true" : "false");
    std::fflush(stdout);
  };
  for (cap c : {cap::zero, cap::one, cap::big, cap::unbounded}) {
    if (c == cap::big || c == cap::unbounded) emit("seq", c, seq<sluice_adapter>(*sluice_adapter::make(c, n), n, t));
    emit("spsc", c, spsc<sluice_adapter>(*sluice_adapter::make(c, n), n, t));
    emit("mpsc", c, mpsc<sluice_adapter>(*sluice_adapter::make(c, n), n, t));
    emit("mpmc", c, mpmc<sluice_adapter>(*sluice_adapter::make(c, n), n, t));
    emit("select_rx", c, select_rx(c, n, t));
    emit("select_both", c, select_both(c, n, t));
  }
  return 0;
}
