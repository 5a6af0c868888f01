#include "weights/tensor_map.h"

namespace ma {

at::Tensor convert_tensor(const at::Tensor& t, const DeviceDtype& opt) {
  if (at::isFloatingType(t.scalar_type())) return t.to(opt.device, opt.dtype);
  return t.to(opt.device);
}

}  // namespace ma
