# OpenHCS pipeline: count cells in every site and channel of a plate, on CPU, headless.
#
# The bridge (openhcs-bridge) puts a line `PARAMS = {...}` in front of this source with the
# values the user chose, checked against cell_count_cpu.json; nothing else of the request
# reaches the pipeline. No viewer streaming: the server runs without a display.
from openhcs.constants.constants import VariableComponents
from openhcs.core.config import LazyProcessingConfig, PipelineConfig
from openhcs.core.steps.function_step import FunctionStep
from openhcs.processing.backends.analysis.cell_counting_cpu import (
    DetectionMethod,
    ThresholdMethod,
    count_cells_single_channel,
)
from openhcs.processing.backends.processors.numpy_processor import (
    create_projection,
    stack_percentile_normalize,
)

pipeline_config = PipelineConfig()
pipeline_steps = []

if PARAMS["normalize"]:  # noqa: F821 - injected by the bridge
    pipeline_steps.append(FunctionStep(
        func=(stack_percentile_normalize, {"low_percentile": 0.5, "high_percentile": 99.5}),
        name="Normalise intensities",
    ))

# One plane per site and channel (a z-stack becomes its maximum projection).
pipeline_steps.append(FunctionStep(
    func=create_projection,
    name="Flatten z",
    processing_config=LazyProcessingConfig(variable_components=[VariableComponents.Z_INDEX]),
))

pipeline_steps.append(FunctionStep(
    func=(count_cells_single_channel, {
        "detection_method": DetectionMethod.WATERSHED,
        "watershed_threshold_method": ThresholdMethod(PARAMS["method"]),  # noqa: F821
        "enable_preprocessing": PARAMS["sigma"] > 0,  # noqa: F821
        "gaussian_sigma": max(PARAMS["sigma"], 0.1),  # noqa: F821
        "min_cell_area": PARAMS["min_cell_area"],  # noqa: F821
        "max_cell_area": PARAMS["max_cell_area"],  # noqa: F821
    }),
    name="Count cells",
))
