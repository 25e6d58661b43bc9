#pragma once
// The backend of a single-process world (internal).
#include <memory>

#include "backend.h"

namespace ds::dist::detail {
std::shared_ptr<Backend> self_backend();
}  // namespace ds::dist::detail
