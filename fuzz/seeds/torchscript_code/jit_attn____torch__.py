class Attn(Module):
  __parameters__ = []
  __buffers__ = []
  training : bool
  _is_full_backward_hook : Optional[bool]
  emb : __torch__.torch.nn.modules.sparse.Embedding
  ln : __torch__.torch.nn.modules.normalization.LayerNorm
  qkv : __torch__.torch.nn.modules.linear.___torch_mangle_8.Linear
  out : __torch__.torch.nn.modules.linear.___torch_mangle_9.Linear
  def forward(self: __torch__.Attn,
    ids: Tensor,
    mask: Tensor) -> Tuple[Tensor, Tensor]:
    out = self.out
    qkv = self.qkv
    ln = self.ln
    emb = self.emb
    _0 = (ln).forward((emb).forward(ids, ), )
    b = ops.prim.NumToTensor(torch.size(_0, 0))
    _1 = int(b)
    _2 = int(b)
    _3 = int(b)
    _4 = int(b)
    s = ops.prim.NumToTensor(torch.size(_0, 1))
    _5 = int(s)
    _6 = int(s)
    _7 = int(s)
    _8 = int(s)
    _9 = torch.split((qkv).forward(_0, ), 16, -1)
    q, k, v, = _9
    q0 = torch.transpose(torch.view(q, [_4, _8, 2, 8]), 1, 2)
    k0 = torch.transpose(torch.view(k, [_3, _7, 2, 8]), 1, 2)
    v0 = torch.transpose(torch.view(v, [_2, _6, 2, 8]), 1, 2)
    h = torch.scaled_dot_product_attention(q0, k0, v0, mask)
    input = torch.reshape(torch.transpose(h, 1, 2), [_1, _5, 16])
    _10 = torch.gelu((out).forward(input, ), approximate="tanh")
    y = torch.add(_10, _0)
    _11 = torch.slice(y, 0, 0, 9223372036854775807)
    return (y, torch.select(_11, 1, 0))
