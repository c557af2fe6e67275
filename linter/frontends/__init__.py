"""Front ends: turn a file into LoRA sites. They never import torch or transformers."""
