// The core Scheduler: dependency counting, ready-queue order (FIFO / priority), streams, and
// transfers (one per tensor and destination device, first-consumer order, FIFO per link, or per
// source device when it has shared copy engines).
#include <gtest/gtest.h>

#include "doppler/error.hpp"
#include "doppler/scheduler.hpp"

namespace doppler {
namespace {

// 0 -> {1, 2, 3}, {1, 2} -> 4
TaskGraph fork_join() {
  TaskGraph g("fork");
  for (int i = 0; i < 5; ++i) g.add_op({});
  g.add_edge(0, 1);
  g.add_edge(0, 2);
  g.add_edge(0, 3);
  g.add_edge(1, 4);
  g.add_edge(2, 4);
  return g;
}

TEST(Scheduler, CountsDependenciesAndRunsReadyOpsInArrivalOrder) {
  const TaskGraph tg = fork_join();
  const ExecGraph g = ExecGraph::from(tg);
  Scheduler s(g, {1, 1});
  const std::vector<DeviceId> device{0, 0, 0, 0, 0};
  s.start(device);
  ASSERT_EQ(s.sources().size(), 1u);
  s.make_ready(0);
  EXPECT_EQ(s.next_op(0), 0u);
  EXPECT_EQ(s.next_op(0), kNoOp);  // one stream, busy
  s.op_finished(0);
  for (OpId v : {3, 1, 2}) {
    EXPECT_TRUE(s.input_arrived(v));
    s.make_ready(v);
  }
  EXPECT_EQ(s.ready_count(0), 3u);
  EXPECT_EQ(s.next_op(0), 3u);  // FIFO: in the order they became ready
  s.op_finished(3);
  EXPECT_EQ(s.next_op(0), 1u);
  s.op_finished(1);
  EXPECT_FALSE(s.input_arrived(4));  // still waits for 2
  EXPECT_EQ(s.next_op(0), 2u);
  s.op_finished(2);
  EXPECT_TRUE(s.input_arrived(4));
}

TEST(Scheduler, PriorityOrdersReadyOpsLowerFirstThenArrival) {
  const TaskGraph tg = fork_join();
  const ExecGraph g = ExecGraph::from(tg);
  Scheduler s(g, {2});
  const std::vector<DeviceId> device(5, 0);
  const std::vector<double> priority{0, 5, 1, 5, 9};
  s.start(device, priority);
  for (OpId v : {1, 3, 2}) s.make_ready(v);
  EXPECT_EQ(s.next_op(0), 2u);     // priority 1
  EXPECT_EQ(s.next_op(0), 1u);     // priority 5, ready before 3
  EXPECT_EQ(s.next_op(0), kNoOp);  // two streams taken
  EXPECT_FALSE(s.has_free_stream(0));
  s.op_finished(2);
  EXPECT_EQ(s.next_op(0), 3u);
}

TEST(Scheduler, OneTransferPerTensorAndDestinationInFirstConsumerOrder) {
  const TaskGraph tg = fork_join();
  const ExecGraph g = ExecGraph::from(tg);
  Scheduler s(g, {1, 1, 1});
  const std::vector<DeviceId> device{0, 2, 1, 2, 0};
  s.start(device);
  s.build_transfers();
  const auto of0 = s.transfers_of(0);
  ASSERT_EQ(of0.size(), 2u);  // to device 2 (ops 1 and 3) and to device 1 (op 2)
  EXPECT_EQ(s.transfer(of0[0]).dst, 2u);
  EXPECT_EQ(std::vector<OpId>(s.consumers_of(of0[0]).begin(), s.consumers_of(of0[0]).end()),
            (std::vector<OpId>{1, 3}));
  EXPECT_EQ(s.transfer(of0[1]).dst, 1u);
  EXPECT_EQ(s.transfers_of(1).size(), 1u);  // 1 (dev 2) -> 4 (dev 0)
  EXPECT_EQ(s.transfers_of(3).size(), 0u);
  EXPECT_EQ(s.num_transfers(), 4u);
}

TEST(Scheduler, LinksCarryOneTransferAtATimeInFifoOrder) {
  TaskGraph tg("pair");
  for (int i = 0; i < 3; ++i) tg.add_op({});
  tg.add_edge(0, 2);
  tg.add_edge(1, 2);
  const ExecGraph g = ExecGraph::from(tg);
  Scheduler s(g, {1, 1});
  const std::vector<DeviceId> device{0, 0, 1};
  s.start(device);
  s.build_transfers();
  const TransferId a = s.transfers_of(0)[0], b = s.transfers_of(1)[0];
  s.transfer_ready(b);
  s.transfer_ready(a);
  EXPECT_EQ(s.next_transfer(0, 1), b);
  EXPECT_EQ(s.next_transfer(0, 1), kNoTransfer);  // link busy
  EXPECT_EQ(s.next_transfer(1, 0), kNoTransfer);  // other direction: nothing queued
  s.transfer_finished(b);
  EXPECT_EQ(s.next_transfer(0, 1), a);
}

// One shared copy engine on device 0: its copies to devices 1, 2 and 3 run one at a time, in the
// order they became ready, whichever link asks; two engines run two at once; start() resets them.
TEST(Scheduler, SharedCopyEnginesRunASourcesCopiesInReadyOrder) {
  const TaskGraph tg = fork_join();
  const ExecGraph g = ExecGraph::from(tg);
  Scheduler s(g, {1, 1, 1, 1});
  s.set_copy_engines({1, 0, 0, 0});
  const std::vector<DeviceId> device{0, 1, 2, 3, 1};
  for (int round = 0; round < 2; ++round) {
    s.start(device);
    s.build_transfers();
    ASSERT_EQ(s.transfers_of(0).size(), 3u);
    const TransferId to1 = s.transfers_of(0)[0], to2 = s.transfers_of(0)[1], to3 = s.transfers_of(0)[2];
    s.transfer_ready(to3);
    s.transfer_ready(to1);
    s.transfer_ready(to2);
    EXPECT_EQ(s.next_transfer(0, 1), to3);          // the FIFO head, though link 0->1 asked
    EXPECT_EQ(s.next_transfer(0, 2), kNoTransfer);  // the engine is busy
    s.transfer_finished(to3);
    EXPECT_EQ(s.next_transfer(0, 3), to1);
    s.transfer_finished(to1);
    EXPECT_EQ(s.next_transfer(0, 3), to2);
    EXPECT_EQ(s.next_transfer(0, 3), kNoTransfer);
    s.transfer_finished(to2);
  }
  s.set_copy_engines({2, 0, 0, 0});
  s.start(device);
  s.build_transfers();
  for (const TransferId t : s.transfers_of(0)) s.transfer_ready(t);
  EXPECT_EQ(s.next_transfer(0, 1), s.transfers_of(0)[0]);
  EXPECT_EQ(s.next_transfer(0, 1), s.transfers_of(0)[1]);
  EXPECT_EQ(s.next_transfer(0, 1), kNoTransfer);  // both engines busy
  EXPECT_THROW(s.set_copy_engines({1, 1}), Error);
}

TEST(Scheduler, StartResetsAllRunState) {
  const TaskGraph tg = fork_join();
  const ExecGraph g = ExecGraph::from(tg);
  Scheduler s(g, {1});
  const std::vector<DeviceId> device(5, 0);
  s.start(device);
  s.make_ready(0);
  ASSERT_EQ(s.next_op(0), 0u);
  EXPECT_TRUE(s.input_arrived(1));
  s.start(device);
  EXPECT_EQ(s.ready_count(0), 0u);
  EXPECT_TRUE(s.has_free_stream(0));
  EXPECT_FALSE(s.input_arrived(4));  // pending counts restored: 4 needs two inputs
}

}  // namespace
}  // namespace doppler
