// sluice/sluice.hpp - the umbrella header: every public sluice header.
#pragma once

#include "sluice/alt.hpp"
#include "sluice/async.hpp"
#include "sluice/mp.hpp"
#include "sluice/node.hpp"
#include "sluice/channel.hpp"
#include "sluice/consumer_thread.hpp"
#include "sluice/coroutine.hpp"
#include "sluice/policy.hpp"
#include "sluice/recv_result.hpp"
#include "sluice/server.hpp"
#include "sluice/status.hpp"
#include "sluice/timer.hpp"
