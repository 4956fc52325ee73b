#!/usr/bin/env python
"""Remove clouds from a whole scene of any size with a trained mono-temporal model.

    python tools/infer_scene.py CONFIG CHECKPOINT in.tif out.tif [--tile 256] [--overlap 32]
        [--bands 1 2 3 4] [--in-range 0 255] [--out-dtype float32] [--device cpu]

The scene is processed in overlapping tiles read and written with rasterio
windows (memory bounded by one strip of tiles), blended with a smooth
sin² window without seams; the output keeps the input's CRS, transform and
nodata. Input units are mapped to [-1, 1] as the config's test pipeline does
(its RescaleToSymmetric) and predictions are mapped back before writing.
See crbench/inference/tiled.py for the details.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


from crbench.apis import DictAction  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Tiled cloud removal on a GeoTIFF (or PNG) of any size.')
    parser.add_argument('config', help='the model\'s config, e.g. '
                        'configs/memorynet/memorynet_cuhkcr2.py')
    parser.add_argument('checkpoint', help='a .pth written by tools/train.py or a converter')
    parser.add_argument('input', help='input raster (GeoTIFF, or anything GDAL reads, e.g. PNG)')
    parser.add_argument('output', help='output path: .tif (GeoTIFF) or .png')
    parser.add_argument('--tile', type=int, default=256, help='tile size in pixels (256)')
    parser.add_argument('--overlap', type=int, default=32,
                        help='overlap of neighbouring tiles in pixels (32; at most tile / 2)')
    parser.add_argument('--margin', type=int, default=None,
                        help='pixels next to an inner tile edge that are discarded before '
                        'blending (default overlap // 4)')
    parser.add_argument('--bands', type=int, nargs='+', metavar='B',
                        help='input band numbers to feed the model, starting at 1 (GDAL '
                        'order); default: all bands')
    parser.add_argument('--in-range', type=float, nargs=2, metavar=('LO', 'HI'),
                        help='input units mapped to [-1, 1]; default: from the config\'s '
                        'test pipeline (RescaleToSymmetric in_range)')
    parser.add_argument('--out-range', type=float, nargs=2, metavar=('LO', 'HI'),
                        help='units [-1, 1] is mapped back to for writing; default: the '
                        'target\'s range in the config (or --in-range)')
    parser.add_argument('--out-dtype', help='output data type (default: the input\'s); integer '
                        'types are rounded and clipped')
    parser.add_argument('--batch-size', type=int, default=1, help='tiles per forward pass')
    parser.add_argument('--size-divisor', type=int, default=8,
                        help='pad tiles to a multiple of this for the network (8)')
    parser.add_argument('--device', default='cpu', help='cpu, cuda, cuda:1, ...')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override config keys, as for tools/test.py')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from crbench.datasets.transforms.loading import ImageReadError
    from crbench.engine import UntrustedCheckpointError
    from crbench.inference import (SceneInferenceError, SymmetricScaling, check_mono_temporal,
                                   load_model, restore_scene, scaling_from_config)
    try:
        model, cfg = load_model(args.config, args.checkpoint, args.device, args.cfg_options)
        check_mono_temporal(cfg, model)
        if args.in_range:
            in_scaling = SymmetricScaling(*args.in_range)
            out_scaling = SymmetricScaling(*args.out_range) if args.out_range else in_scaling
        else:
            in_scaling, out_scaling = scaling_from_config(cfg)
            if args.out_range:
                out_scaling = SymmetricScaling(*args.out_range)
        if any(step.get('type') == 'MatlabResize'
               for step in (cfg.get('test_dataloader') or {}).get('dataset', {}).get(
                   'pipeline', [])):
            print('crbench infer_scene: note: the test pipeline resizes images (MatlabResize); '
                  'scenes are processed at their native resolution', file=sys.stderr)
        result = restore_scene(
            model, args.input, args.output, in_scaling=in_scaling, out_scaling=out_scaling,
            tile=args.tile, overlap=args.overlap, margin=args.margin, bands=args.bands,
            out_dtype=args.out_dtype, batch_size=args.batch_size,
            size_divisor=args.size_divisor, device=args.device,
            progress=not args.no_progress)
    except (SceneInferenceError, FileNotFoundError, UntrustedCheckpointError,
            ImageReadError, ValueError) as err:  # ValueError: e.g. --in-range with hi <= lo
        print(f'crbench infer_scene: {err}', file=sys.stderr)
        return 2
    except Exception as err:  # rasterio's errors name the file; keep their message
        from rasterio.errors import RasterioError
        if isinstance(err, RasterioError):
            print(f'crbench infer_scene: cannot read or write a raster: {err}', file=sys.stderr)
            return 2
        raise
    print(f'crbench infer_scene: wrote {result.path} ({result.count} band(s), '
          f'{result.width}×{result.height} pixels, {result.n_tiles} tiles)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
