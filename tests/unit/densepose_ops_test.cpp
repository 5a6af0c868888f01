// Native ROIAlign and NMS against torchvision.ops (fixture made by
// tests/data/gen/densepose_ops.py with Debian's python3-torchvision 0.14.1).
#include "media/image.h"
#include "weights/safetensors.h"
#include "nn/ops/nms.h"
#include "nn/ops/roi_align.h"
#include "test_util.h"
#include "util/error.h"

namespace ma {
namespace {

const TensorMap& ops() {
  static TensorMap m = load_safetensors(test::data_dir() + "/densepose/ops.safetensors");
  return m;
}

TEST(RoiAlign, MatchesTorchvisionForEveryModeAndRoiPlacement) {
  for (int aligned : {0, 1})
    for (int sr : {2, 0}) {
      const at::Tensor got = nn::ops::roi_align(ops().at("feat"), ops().at("rois"), 7, 5, 0.25, sr, aligned != 0);
      const at::Tensor want = ops().at("roi_align.aligned" + std::to_string(aligned) + ".sr" + std::to_string(sr));
      ASSERT_EQ(got.sizes(), want.sizes());
      // Same float operations in the same order as torchvision's CPU kernel; 1e-6 leaves room
      // only for a compiler contracting a multiply-add.
      EXPECT_LE((got - want).abs().max().item<double>(), 1e-6) << "aligned " << aligned << " sr " << sr;
    }
  // The roi wholly outside the map samples nothing.
  const at::Tensor got = nn::ops::roi_align(ops().at("feat"), ops().at("rois"), 7, 5, 0.25, 2, false);
  EXPECT_EQ(got[4].abs().max().item<float>(), 0.f);
}

TEST(RoiAlign, RejectsBadShapesAndBatchIndices) {
  EXPECT_THROW(nn::ops::roi_align(at::zeros({1, 1, 4, 4}), at::zeros({2, 4}), 2, 2, 1.0, 2, false), Error);
  EXPECT_THROW(nn::ops::roi_align(at::zeros({1, 1, 4, 4}), at::tensor({3.f, 0.f, 0.f, 1.f, 1.f}).view({1, 5}), 2,
                                  2, 1.0, 2, false),
               Error);
}

TEST(Nms, MatchesTorchvisionKeptIndicesAndOrder) {
  for (int t : {3, 5, 7}) {
    const at::Tensor keep = nn::ops::nms(ops().at("nms.boxes"), ops().at("nms.scores"), t / 10.0);
    EXPECT_TRUE(keep.equal(ops().at("nms.keep" + std::to_string(t)))) << "threshold 0." << t;
    const at::Tensor bkeep =
        nn::ops::batched_nms(ops().at("nms.boxes"), ops().at("nms.scores"), ops().at("nms.cats"), t / 10.0);
    EXPECT_TRUE(bkeep.equal(ops().at("batched_nms.keep" + std::to_string(t)))) << "batched, threshold 0." << t;
  }
  // Over 1000 boxes torchvision switches to a loop over categories.
  const at::Tensor big = nn::ops::batched_nms(ops().at("big.boxes"), ops().at("big.scores"), ops().at("big.cats"), 0.5);
  EXPECT_TRUE(big.equal(ops().at("big.keep5")));
}

TEST(Nms, EmptyInputAndIdenticalBoxes) {
  EXPECT_EQ(nn::ops::nms(at::zeros({0, 4}), at::zeros({0}), 0.5).numel(), 0);
  // Two identical boxes: IoU 1, the higher score survives; a disjoint box survives too.
  const at::Tensor boxes = at::tensor({0.f, 0.f, 2.f, 2.f, 0.f, 0.f, 2.f, 2.f, 5.f, 5.f, 6.f, 6.f}).view({3, 4});
  const at::Tensor keep = nn::ops::nms(boxes, at::tensor({0.2f, 0.9f, 0.1f}), 0.5);
  EXPECT_TRUE(keep.equal(at::tensor({int64_t{1}, int64_t{2}})));
}

TEST(PillowBilinear, MatchesPillowDownAndUp) {
  // detectron2 resizes every frame with PIL's BILINEAR before the network.
  const at::Tensor src = ops().at("pil.src");
  for (auto [w, h] : {std::pair<int64_t, int64_t>{23, 17}, {80, 61}, {50, 20}, {13, 37}}) {
    const at::Tensor got = resize_like_pillow(src, w, h, PillowFilter::Bilinear);
    const at::Tensor want = ops().at("pil.bilinear." + std::to_string(w) + "x" + std::to_string(h));
    EXPECT_TRUE(got.equal(want)) << w << "x" << h << ": " << got.ne(want).sum().item<int64_t>() << " values differ";
  }
}

}  // namespace
}  // namespace ma
