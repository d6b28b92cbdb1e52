//! The fused fast-path ops `nn.TransformerEncoderLayer` and `nn.MultiheadAttention` take when
//! traced in eval mode under `no_grad`, written out with the ordinary ops (linear, view,
//! transpose, scaled_dot_product_attention, layer_norm, relu/gelu, add) through the same
//! ATen path as everything else:
//!
//! - `aten::_transformer_encoder_layer_fwd(src, embed_dim, num_heads, qkv_weight, qkv_bias,
//!   proj_weight, proj_bias, use_gelu, norm_first, eps, norm_weight_1, norm_bias_1,
//!   norm_weight_2, norm_bias_2, ffn_weight_1, ffn_bias_1, ffn_weight_2, ffn_bias_2, mask,
//!   mask_type)` (batch-first input);
//! - `aten::_native_multi_head_attention(query, key, value, embed_dim, num_head, qkv_weight,
//!   qkv_bias, proj_weight, proj_bias, mask, need_weights, average_attn_weights, mask_type)`.
//!
//! The packed in-projection is split into its q/k/v rows at import time (constant slices). The
//! `mask` argument (with `mask_type`: 0 attention mask, 1 key padding, 2 merged) becomes the
//! attention mask of the written-out scaled dot-product attention.

use super::interp::{Interp, R};
use super::value::V;
use edgeport_ir::{Op, Tensor};
use std::rc::Rc;

fn arg(args: &[V], kwargs: &[(String, V)], i: usize, name: &str) -> V {
    args.get(i)
        .cloned()
        .or_else(|| kwargs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
        .unwrap_or(V::None)
}

fn int(v: &V, what: &str) -> R<i64> {
    v.as_int().ok_or_else(|| format!("{what} is a {}, expected an int", v.kind()))
}

impl Interp<'_> {
    fn call(&mut self, op: &str, args: Vec<V>) -> R<V> {
        self.aten(op, args, vec![])
    }

    /// Rows `[start, start+len)` of a constant matrix/vector, as a new constant.
    fn const_rows(&mut self, v: &V, start: usize, len: usize, what: &str) -> R<V> {
        let V::Tensor(name) = v else {
            return Err(format!("{what} is a {}, expected a tensor", v.kind()));
        };
        self.cx.capture(name);
        let id = *self.cx.env.get(&**name).ok_or_else(|| format!("{what} is not defined"))?;
        let konst: Option<Tensor> = match self.cx.g.get(id.node).map(|n| &n.op) {
            Some(Op::Constant(c)) if id.port == 0 => Some(c.value.clone()),
            _ => None,
        };
        let t: Tensor = match konst {
            Some(t) => t,
            None => {
                // Not a constant: slice in the graph.
                let s = i64::try_from(start).map_err(|_| "offset too large")?;
                let e = i64::try_from(start + len).map_err(|_| "offset too large")?;
                return self.call("slice", vec![v.clone(), V::Int(0), V::Int(s), V::Int(e), V::Int(1)]);
            }
        };
        let shape = t.shape.clone();
        let rows = *shape.first().ok_or_else(|| format!("{what} is a scalar"))?;
        let row: usize = shape[1..].iter().product();
        let es = t.dtype.bits() / 8;
        if start.checked_add(len).is_none_or(|e| e > rows) || es == 0 {
            return Err(format!("{what} of shape {shape:?} has no rows {start}..{}", start + len));
        }
        let raw = t.raw().ok_or_else(|| format!("{what} has no raw data"))?;
        let bytes = raw
            .slice(start * row * es, len * row * es)
            .ok_or_else(|| format!("{what}: slice outside the tensor"))?;
        let mut new_shape = shape.clone();
        new_shape[0] = len;
        let sub = Tensor::from_bytes(t.dtype, new_shape.clone(), bytes).map_err(|e| e.to_string())?;
        let cname = self.cx.fresh(&format!("{name}_rows{start}"));
        let cid = self.cx.g.add_constant(cname.clone(), sub);
        self.cx.env.insert(cname.clone(), cid);
        self.cx.metas.insert(
            cname.clone(),
            crate::export_program::schema::Meta {
                dtype: t.dtype,
                shape: super::aten::dims(&new_shape.iter().map(|&d| d as i64).collect::<Vec<_>>()),
            },
        );
        Ok(V::Tensor(Rc::from(cname.as_str())))
    }

    /// Multi-head attention on batch-first `[B, L, E]` inputs with a packed in-projection.
    #[allow(clippy::too_many_arguments)]
    fn mha(&mut self, q: &V, k: &V, v: &V, e: i64, heads: i64, w: &V, b: &V, wo: &V, bo: &V, mask: &V) -> R<V> {
        if heads <= 0 || e <= 0 || e % heads != 0 {
            return Err(format!("embed_dim {e} is not divisible by {heads} heads"));
        }
        let eu = usize::try_from(e).map_err(|_| "embed_dim too large")?;
        let d = e / heads;
        let mut proj = Vec::new();
        for (i, x) in [q, k, v].into_iter().enumerate() {
            let wi = self.const_rows(w, i * eu, eu, "in-projection weight")?;
            let bi = match b {
                V::None => V::None,
                _ => self.const_rows(b, i * eu, eu, "in-projection bias")?,
            };
            let y = self.call("linear", vec![x.clone(), wi, bi])?;
            let V::Tensor(yn) = &y else { return Ok(V::Poison) };
            let shape = self.known_shape(yn)?;
            let [bsz, len, _] = shape[..] else {
                return Err(format!("attention input of rank {} (expected [batch, length, embed])", shape.len()));
            };
            let y = self.call(
                "view",
                vec![y, V::List(Rc::new(vec![V::Int(bsz), V::Int(len), V::Int(heads), V::Int(d)]))],
            )?;
            proj.push(self.call("transpose", vec![y, V::Int(1), V::Int(2)])?);
        }
        let [qh, kh, vh] = <[V; 3]>::try_from(proj).map_err(|_| "attention projections")?;
        let a = self.call("scaled_dot_product_attention", vec![qh, kh, vh, mask.clone()])?;
        let a = self.call("transpose", vec![a, V::Int(1), V::Int(2)])?;
        let V::Tensor(an) = &a else { return Ok(V::Poison) };
        let s = self.known_shape(an)?;
        let [bsz, len, ..] = s[..] else {
            return Err("attention output rank".into());
        };
        let a = self.call("reshape", vec![a, V::List(Rc::new(vec![V::Int(bsz), V::Int(len), V::Int(e)]))])?;
        self.call("linear", vec![a, wo.clone(), bo.clone()])
    }

    /// The fast path's mask as an attention mask for `scaled_dot_product_attention` on
    /// `[B, H, L, S]` scores. `mask_type` 1 is a key-padding mask `[B, S]` (made `[B, 1, 1, S]`);
    /// 0 (`[L, S]`) and 2 (already `[B, H, L, S]`-broadcastable) are used as they are. A float
    /// mask is additive (as torch's canonical masks are); a bool mask marks positions to
    /// leave out, the opposite of SDPA's, so it is inverted.
    fn fast_path_mask(&mut self, mask: &V, mask_type: &V) -> R<V> {
        let V::Tensor(m) = mask else {
            return match mask {
                V::None | V::Poison => Ok(mask.clone()),
                other => Err(format!("the attention mask is a {}, expected a tensor", other.kind())),
            };
        };
        let m = m.clone();
        let meta = self.meta_of(&m)?;
        let kind = match mask_type {
            V::None => None,
            v => Some(v.as_int().ok_or_else(|| format!("mask_type is a {}, expected an int", v.kind()))?),
        };
        let mut out = V::Tensor(m);
        if meta.dtype == edgeport_ir::DType::Bool {
            out = self.call("bitwise_not", vec![out])?;
        }
        match (kind, meta.rank()) {
            (Some(1), 2) => {
                out = self.call("unsqueeze", vec![out, V::Int(1)])?;
                out = self.call("unsqueeze", vec![out, V::Int(1)])?;
            }
            (Some(1), r) => return Err(format!("a key-padding mask (mask_type 1) of rank {r}, expected [batch, length]")),
            (Some(0 | 2) | None, _) => {}
            (Some(k), _) => return Err(format!("mask_type {k} is not known (0, 1 or 2)")),
        }
        Ok(out)
    }

    pub fn transformer_encoder_layer(&mut self, args: Vec<V>, kwargs: Vec<(String, V)>) -> R<V> {
        let g = |i: usize, n: &str| arg(&args, &kwargs, i, n);
        let src = g(0, "src");
        let e = int(&g(1, "embed_dim"), "embed_dim")?;
        let heads = int(&g(2, "num_heads"), "num_heads")?;
        let gelu = self.truth(&g(7, "use_gelu")).ok_or("use_gelu is not known")?;
        let norm_first = self.truth(&g(8, "norm_first")).ok_or("norm_first is not known")?;
        let eps = g(9, "eps").as_num().map(|n| n.f64()).ok_or("eps is not a number")?;
        let mask = g(18, "mask");
        let mask = self.fast_path_mask(&mask, &g(19, "mask_type"))?;
        let ln = |me: &mut Self, x: V, w: V, b: V| -> R<V> {
            me.call("layer_norm", vec![x, V::List(Rc::new(vec![V::Int(e)])), w, b, V::Float(eps)])
        };
        let (w1, b1, w2, b2) = (
            g(10, "norm_weight_1"),
            g(11, "norm_bias_1"),
            g(12, "norm_weight_2"),
            g(13, "norm_bias_2"),
        );
        let attn = |me: &mut Self, x: &V| -> R<V> {
            me.mha(
                x,
                x,
                x,
                e,
                heads,
                &g(3, "qkv_weight"),
                &g(4, "qkv_bias"),
                &g(5, "proj_weight"),
                &g(6, "proj_bias"),
                &mask,
            )
        };
        let ffn = |me: &mut Self, x: V| -> R<V> {
            let h = me.call("linear", vec![x, g(14, "ffn_weight_1"), g(15, "ffn_bias_1")])?;
            let h = me.call(if gelu { "gelu" } else { "relu" }, vec![h])?;
            me.call("linear", vec![h, g(16, "ffn_weight_2"), g(17, "ffn_bias_2")])
        };
        if norm_first {
            let n1 = ln(self, src.clone(), w1, b1)?;
            let a = attn(self, &n1)?;
            let h = self.call("add", vec![src, a])?;
            let n2 = ln(self, h.clone(), w2, b2)?;
            let f = ffn(self, n2)?;
            self.call("add", vec![h, f])
        } else {
            let a = attn(self, &src)?;
            let h = self.call("add", vec![src, a])?;
            let h = ln(self, h, w1, b1)?;
            let f = ffn(self, h.clone())?;
            let o = self.call("add", vec![h, f])?;
            ln(self, o, w2, b2)
        }
    }

    pub fn native_mha(&mut self, args: Vec<V>, kwargs: Vec<(String, V)>) -> R<V> {
        let g = |i: usize, n: &str| arg(&args, &kwargs, i, n);
        let e = int(&g(3, "embed_dim"), "embed_dim")?;
        let heads = int(&g(4, "num_head"), "num_head")?;
        let mask = g(9, "mask");
        let mask = self.fast_path_mask(&mask, &g(12, "mask_type"))?;
        let out = self.mha(
            &g(0, "query"),
            &g(1, "key"),
            &g(2, "value"),
            e,
            heads,
            &g(5, "qkv_weight"),
            &g(6, "qkv_bias"),
            &g(7, "proj_weight"),
            &g(8, "proj_bias"),
            &mask,
        )?;
        if self.truth(&g(10, "need_weights")).unwrap_or(true) {
            return Ok(self.unsupported("aten::_native_multi_head_attention with need_weights=True"));
        }
        Ok(V::Tuple(Rc::new(vec![out, V::None])))
    }
}
