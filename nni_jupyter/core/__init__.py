"""The numpy-only core every layer may use: box arithmetic and gesture rasterizing.

Nothing here imports torch, anywidget or any other part of nni_jupyter.
"""
