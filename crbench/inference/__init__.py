"""Running trained models outside the benchmark loop (whole scenes, tiles)."""
from .tiled import (SceneInferenceError, SceneResult, SymmetricScaling, blend_window_1d,
                    check_mono_temporal, load_model, restore_scene, scaling_from_config,
                    tile_starts)

__all__ = ['SceneInferenceError', 'SceneResult', 'SymmetricScaling', 'blend_window_1d',
           'check_mono_temporal', 'load_model', 'restore_scene', 'scaling_from_config',
           'tile_starts']
