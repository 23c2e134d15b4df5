// sluice/sluice.hpp - the umbrella header: every public sluice header.
#pragma once

#include "sluice/channel.hpp"
#include "sluice/policy.hpp"
#include "sluice/recv_result.hpp"
#include "sluice/status.hpp"
