#pragma once
// Test helper: the "true" machine the calibration tests simulate traced runs on: per-kind
// rooflines, launch overheads and asymmetric links unlike any shipped machine, so that a fit that
// recovers it is not a fit that returns the defaults.
#include <string>

namespace doppler::test_support {

inline const std::string kTrueMachine = R"(name: truth
time_unit: s
devices:
  count: 2
  template: {flops: 500e12, memory_bandwidth: 2e12, streams: 1, launch_overhead: 3e-6}
interconnect:
  links:
    - {src: 0, dst: 1, bandwidth: 200e9, latency: 3e-6, one_way: true}
    - {src: 1, dst: 0, bandwidth: 120e9, latency: 5e-6, one_way: true}
calibration:
  kinds:
    join: {flop_rate: 100e12, bandwidth: 2e12, overhead: 6e-6}
    aggregate: {bandwidth: 1e12, overhead: 4e-6}
    load: {overhead: 2e-6}
    repartition: {bandwidth: 0.8e12, overhead: 5e-6}
)";

}  // namespace doppler::test_support
