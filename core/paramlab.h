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
#include "pl-run-store.h"
#include "pl-engine.h"
#include "pl-run-addin.h"
#include "pl-init-strategy.h"
#include "pl-sparsity-gate.h"
#include "pl-pruning-criterion.h"
#include "pl-pruning-schedule.h"
#include "pl-pruner.h"
#include "pl-prune-stats.h"
#include "pl-quantizer.h"
#include "pl-int8.h"
#include "pl-lr-policy.h"
#include "pl-architecture.h"
#include "pl-dataset-source.h"
#include "pl-plugin-engine.h"
#include "pl-plugin-selection.h"
#undef PARAMLAB_INSIDE
