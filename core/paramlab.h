/* paramlab.h: the public umbrella header of libparamlab.
 * Plugins and front ends include this header and nothing else from core/. */
#pragma once

#define PARAMLAB_INSIDE
#include "pl-error.h"
#include "pl-rng.h"
#include "pl-json.h"
#include "pl-safetensors.h"
#include "pl-ops.h"
#include "pl-experiment.h"
#include "pl-dataset.h"
#include "pl-graph.h"
#include "pl-model.h"
#include "pl-optimizer.h"
#include "pl-metrics.h"
#undef PARAMLAB_INSIDE
