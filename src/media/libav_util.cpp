#include "media/libav_util.h"

#include <mutex>
#include <new>

extern "C" {
#include <libavutil/log.h>
}

namespace ma::av {

FramePtr make_frame() {
  FramePtr f(av_frame_alloc());
  if (!f) throw std::bad_alloc();
  return f;
}

PacketPtr make_packet() {
  PacketPtr p(av_packet_alloc());
  if (!p) throw std::bad_alloc();
  return p;
}

void quiet_logging() {
  // Decoders print warnings for every damaged packet; our callers report
  // failures as ma::Error, so only fatal messages are worth showing.
  static std::once_flag once;
  std::call_once(once, [] { av_log_set_level(AV_LOG_FATAL); });
}

}  // namespace ma::av
