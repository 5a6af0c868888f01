// Precompiled header: the libtorch tensor API and the standard headers every
// translation unit uses. Keep it to stable third-party headers only.
#pragma once
#include <ATen/ATen.h>
#include <map>
#include <memory>
#include <string>
#include <vector>
