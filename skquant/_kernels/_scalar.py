"""Kernels of the scalar quantizers: encode, decode, column summaries, Lloyd (the exact
optimum is in ``_optimal``).

Conventions shared by every kernel here:

- ``X`` is C-ordered ``(n_samples, n_features)`` float32 or float64; ``thresholds`` is
  ``(n_features, M - 1)`` in the same dtype, increasing along each row and padded with
  ``+inf`` for features that have fewer than ``M`` levels; ``levels`` is
  ``(n_features, M)``.
- Code ``k`` means ``thresholds[k - 1] <= x < thresholds[k]``: the code is the number of
  thresholds that are ``<= x``.
- Rows are processed in fixed chunks of ``CHUNK`` rows; per-chunk flags are combined in
  chunk order, so results never depend on the number of threads.
- A column summary is the sorted distinct values ``u`` of a column with their total
  weights, and the prefix sums ``W``, ``S1``, ``S2`` of the weights, of ``w * (u - shift)``
  and of ``w * (u - shift) ** 2`` (length ``len(u) + 1``). Centring on ``shift`` keeps
  the sums exact enough for columns far from zero.
"""

import functools

import numpy as np
from llvmlite import ir
from numba import carray, types
from numba.core import cgutils, errors
from numba.extending import intrinsic

from ._config import jit, prange
from ._small import CHUNK  # rows per chunk of the NaN flags


@jit(inline="always")
def _bisect(thresholds, j, x, top):
    """Number of thresholds <= x in row j: ``log2(top)`` branch-free halving steps."""
    code = 0
    step = top
    while step > 1:
        step >>= 1
        code += step * (thresholds[j, code + step - 1] <= x)
    return code


@jit(parallel=True)
def encode(X, thresholds, out):
    """Quantize every value of ``X`` to its code.

    Branch-free bisection: ``thresholds`` has ``2**b - 1`` columns (padding is
    ``+inf``), so ``b`` halving steps find the number of thresholds ``<= x`` with no
    data-dependent branch. Widths up to 8 bits get a halving loop with a constant
    trip count (unrolled by the compiler: about 5x faster than a variable one).

    Parameters
    ----------
    X : (n, d) float array, IN.
    thresholds : (d, 2**b - 1) float array (same dtype), IN.
    out : (n, d) unsigned int array, OUT: the codes.

    Returns
    -------
    bad : (n_chunks,) bool array, True where a chunk of rows holds a NaN or inf
        (its codes are then meaningless and the caller raises).
    """
    n, d = X.shape
    top = thresholds.shape[1] + 1  # 2**b
    n_chunks = (n + CHUNK - 1) // CHUNK
    bad = np.zeros(n_chunks, dtype=np.bool_)
    for c in prange(n_chunks):
        finite = True
        for i in range(c * CHUNK, min((c + 1) * CHUNK, n)):
            for j in range(d):
                x = X[i, j]
                finite &= x - x == 0.0
                if top == 16:
                    code = _bisect(thresholds, j, x, 16)
                elif top == 2:
                    code = _bisect(thresholds, j, x, 2)
                elif top == 4:
                    code = _bisect(thresholds, j, x, 4)
                elif top == 8:
                    code = _bisect(thresholds, j, x, 8)
                elif top == 32:
                    code = _bisect(thresholds, j, x, 32)
                elif top == 64:
                    code = _bisect(thresholds, j, x, 64)
                elif top == 128:
                    code = _bisect(thresholds, j, x, 128)
                elif top == 256:
                    code = _bisect(thresholds, j, x, 256)
                else:
                    code = _bisect(thresholds, j, x, top)
                out[i, j] = code
        bad[c] = not finite
    return bad


@jit(parallel=True)
def scan_grid_encode(X, start, inv_width, counts, thresholds, out):
    """Codes (the number of thresholds ``<= x``, as :func:`encode`) through a coarse
    grid that may hold several thresholds per cell.

    Feature ``j``'s value ``x`` falls in cell ``g``, ``(x - start[j]) * inv_width[j]``
    clipped to ``[0, G - 1]`` and truncated (the map of :func:`grid_encode`, monotone
    in floating point): the thresholds of earlier cells are below ``x`` and those of
    later cells above, so the code is ``counts[j, g]`` plus the thresholds
    ``thresholds[j, counts[j, g] : counts[j, g + 1]]`` (those of cell ``g``, sorted)
    that are ``<= x``, compared one by one. Exact for any spacing of the thresholds;
    with ``G`` a small multiple of the number of levels the tables stay in cache where
    :func:`grid_encode`'s one-threshold-per-cell grid of a compander (tens of thousands
    of cells) does not.

    Parameters
    ----------
    X : (n, d) float array, IN.
    start, inv_width : (d,) float64 arrays, IN.
    counts : (d, G + 1) int32 array, IN: ``counts[j, g]`` thresholds in cells ``< g``.
    thresholds : (d, M - 1) float64 array, IN: each row sorted.
    out : (n, d) unsigned int array, OUT: the codes.

    Returns
    -------
    bad : (n_chunks,) bool array, True where a chunk of rows holds a NaN or inf.
    """
    n, d = X.shape
    last = np.float64(counts.shape[1] - 2)
    n_chunks = (n + CHUNK - 1) // CHUNK
    bad = np.zeros(n_chunks, dtype=np.bool_)
    for c in prange(n_chunks):
        finite = True
        for i in range(c * CHUNK, min((c + 1) * CHUNK, n)):
            for j in range(d):
                x = X[i, j]
                f = (x - start[j]) * inv_width[j]
                if not f >= 0.0:  # NaN and -inf come here, +inf below (or NaN if
                    finite &= x - x == 0.0  # inv_width is 0): as in grid_encode
                    f = 0.0
                elif f > last:
                    finite &= x - x == 0.0
                    f = last
                g = np.int64(f)
                code = np.int64(counts[j, g])
                hi = np.int64(counts[j, g + 1])
                while code < hi and x >= thresholds[j, code]:
                    code += 1
                out[i, j] = code
        bad[c] = not finite
    return bad


@intrinsic
def _stack_buffer(typingctx, size, dtype):
    """A ``size``-element buffer of ``dtype`` on the stack (an ``alloca``), as a pointer.

    The compiler knows that no argument array aliases it, so a loop that gathers from
    tables and stores into it vectorises (stores into an argument array would not:
    the gathered loads might alias them).
    """
    if not isinstance(size, types.IntegerLiteral):
        raise errors.RequireLiteralValue(size)
    n = size.literal_value
    elt = dtype.dtype

    def codegen(context, builder, sig, args):
        return cgutils.alloca_once(builder, context.get_value_type(elt), size=n)

    return types.CPointer(elt)(size, dtype), codegen


@intrinsic
def _at(typingctx, arr, a, b):
    """``arr[a + b]`` of a 1-D C-ordered array for 32-bit ``a, b`` whose sum is a valid
    index: no wraparound, no bounds check, and a single sign-extended 32-bit index, so
    a vectorised load becomes one ``vpgatherdd`` (base + index * scale) where numba's
    indexing gives 64-bit address vectors."""

    def codegen(context, builder, sig, args):
        ary = context.make_array(sig.args[0])(context, builder, args[0])
        i = builder.sext(builder.add(args[1], args[2]), cgutils.intp_t)
        return builder.load(builder.gep(ary.data, [i]))

    return arr.dtype(arr, types.int32, types.int32), codegen


@intrinsic
def _near(typingctx, a, b):
    """Whether ``a - b`` is ``-1`` or ``0`` for int32 ``a, b`` (``b - 1 <= a <= b``),
    in 32-bit arithmetic: ``(a - b + 1)`` as unsigned is at most 1. Numba's integer
    arithmetic widens int32 to int64 (twice the vector lanes' work)."""

    def codegen(context, builder, sig, args):
        one = context.get_constant(types.int32, 1)
        u = builder.add(builder.sub(args[0], args[1]), one)
        return builder.icmp_unsigned("<=", u, one)

    return types.boolean(types.int32, types.int32), codegen


def _features(codegen):
    """The target features of numba's ``codegen`` (the host's, or NUMBA_CPU_FEATURES)."""
    return set((getattr(codegen, "_tm_features", "") or "").split(","))


@functools.cache
def explicit_gathers():
    """Whether the point grid runs eight values at a time through :func:`_point8`: on
    targets with AVX2 but not AVX-512, where LLVM's cost model keeps the gathers of
    :func:`_point_code` scalar (with AVX-512 it vectorises them itself, 16 lanes)."""
    from numba.core.registry import cpu_target

    features = _features(cpu_target.target_context.codegen())
    return "+avx2" in features and "+avx512f" not in features


def _splat(builder, value, vty):
    """``value`` in every lane of the vector type ``vty``."""
    i32 = ir.IntType(32)
    v = builder.insert_element(ir.Constant(vty, ir.Undefined), value, ir.Constant(i32, 0))
    return builder.shuffle_vector(v, ir.Constant(vty, ir.Undefined),
                                  ir.Constant(ir.VectorType(i32, vty.count), [0] * vty.count))


def _gather8(context, builder, table, index):
    """``table[index]`` of an int32 pointer and ``<8 x i32>`` indices: one AVX2
    ``vpgatherdd`` (LLVM's cost model declines gathers on AVX2 hosts such as AMD Zen
    3, where they are still ~3x faster than its eight scalar loads), or eight loads
    on targets without AVX2."""
    i8, i32 = ir.IntType(8), ir.IntType(32)
    v8 = ir.VectorType(i32, 8)
    if "+avx2" in _features(context.codegen()):
        fnty = ir.FunctionType(v8, [v8, i8.as_pointer(), v8, v8, i8])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.x86.avx2.gather.d.d.256")
        return builder.call(fn, [ir.Constant(v8, [0] * 8), builder.bitcast(table, i8.as_pointer()),
                                 index, ir.Constant(v8, [-1] * 8), ir.Constant(i8, 4)])
    out = ir.Constant(v8, ir.Undefined)
    for lane in range(8):
        at = builder.extract_element(index, ir.Constant(i32, lane))
        value = builder.load(builder.gep(table, [builder.sext(at, ir.IntType(64))]))
        out = builder.insert_element(out, value, ir.Constant(i32, lane))
    return out


@intrinsic
def _point8(typingctx, Xf, base, q, pat, st, iw, co, Ef, zero, last, scale, of):
    """Eight values ``q .. q + 7`` of a block of :func:`_point_block` at once, as its
    loop of :func:`_point_code` computes them one by one (the same operations on
    ``<8 x ...>`` vectors, the entries by :func:`_gather8`), the codes (``-1`` where
    near) stored into ``of[base + q : base + q + 8]``. Returns 1 if a value is NaN or
    infinite, plus 2 if one is near its cell's threshold."""
    sig = types.int32(Xf, base, q, pat, st, iw, co, Ef, zero, last, scale, of)

    def codegen(context, builder, sig, args):
        Xf_, base_, q_, pat_, st_, iw_, co_, Ef_, zero_, last_, scale_, of_ = args
        tys = sig.args
        i32, i64 = ir.IntType(32), ir.IntType(64)

        def data(k, value):
            return context.make_array(tys[k])(context, builder, value).data

        fx = context.get_value_type(tys[0].dtype)
        fc = context.get_value_type(tys[4].dtype)
        vx, vc, vi = ir.VectorType(fx, 8), ir.VectorType(fc, 8), ir.VectorType(i32, 8)

        def load(k, value, at, vty):
            ptr = builder.gep(data(k, value), [at])
            return builder.load(builder.bitcast(ptr, vty.as_pointer()), align=1)

        q64 = builder.sext(q_, i64) if q_.type.width < 64 else q_
        r = builder.add(builder.sext(pat_, i64) if pat_.type.width < 64 else pat_, q64)
        x = load(0, Xf_, builder.add(base_, q64), vx)
        xc = x if fx == fc else builder.fpext(x, vc)
        f = builder.fmul(builder.fsub(xc, load(4, st_, r, vc)), load(5, iw_, r, vc))
        lo, hi = _splat(builder, zero_, vc), _splat(builder, last_, vc)
        f = builder.select(builder.fcmp_ordered(">", f, lo), f, lo)
        f = builder.select(builder.fcmp_ordered("<", f, hi), f, hi)
        nan = builder.fcmp_unordered("!=", builder.fsub(x, x), ir.Constant(vx, [0.0] * 8))
        e = _gather8(context, builder, data(7, Ef_),
                     builder.add(load(6, co_, r, vi), builder.fptosi(f, vi)))
        name = "llvm.floor.v8f32" if fc == ir.FloatType() else "llvm.floor.v8f64"
        floor = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vc, [vc]), name)
        ip = builder.fptosi(builder.fmul(builder.fsub(f, builder.call(floor, [f])),
                                         _splat(builder, scale_, vc)), vi)
        t = builder.and_(e, ir.Constant(vi, [(1 << (POINT_BITS + 1)) - 1] * 8))
        one = ir.Constant(vi, [1] * 8)
        near = builder.icmp_unsigned("<=", builder.add(builder.sub(ip, t), one), one)
        code = builder.add(builder.ashr(e, ir.Constant(vi, [POINT_BITS + 1] * 8)),
                           builder.zext(builder.icmp_signed(">", ip, t), vi))
        code = builder.select(near, ir.Constant(vi, [-1] * 8), code)
        vo = ir.VectorType(context.get_value_type(tys[11].dtype), 8)
        out = builder.gep(data(11, of_), [builder.add(base_, q64)])
        if vo.element.width < 32:
            code = builder.trunc(code, vo)
        builder.store(code, builder.bitcast(out, vo.as_pointer()), align=1)

        def any_(mask):
            bits = builder.bitcast(mask, ir.IntType(8))
            some = builder.icmp_unsigned("!=", bits, ir.Constant(ir.IntType(8), 0))
            return builder.zext(some, i32)

        return builder.or_(any_(nan), builder.shl(any_(near), ir.Constant(i32, 1)))

    return sig, codegen


#: values per block of the grid encoder (its codes go through a stack buffer)
BLOCK = 1024
#: tables of this many entries or more need 64-bit offsets: the grid encoder then runs
#: value by value (``window_rows_encode``)
FLAT_LIMIT = 2**31


@jit(inline="always")
def _window_count(Tf, to, k, x, top):
    """Number of thresholds ``<= x`` among ``Tf[to + k : to + k + top - 1]`` (sorted):
    ``log2(top)`` branch-free halving steps."""
    code = np.int32(0)
    step = np.int32(top)
    while step > 1:
        step >>= 1
        code += step * np.int32(x >= _at(Tf, to, k + code + step - 1))
    return code


@jit(inline="always")
def _position(Xf, base, q, pat, st, iw, zero, last):
    """``(x, r, f)`` of the ``q``-th value of a block: the value ``Xf[base + q]``, its
    pattern entry ``r`` and its position ``(x - st[r]) * iw[r]`` clamped to ``[zero,
    last]`` without branches (NaN goes to ``zero``; the callers check ``x``): the
    cells' map, monotone in ``x``."""
    p = np.uint64(q)
    x = Xf[base + p]
    r = np.uint64(pat) + p
    f = (x - st[r]) * iw[r]
    f = _select(f > zero, f, zero)
    return x, r, _select(f < last, f, last)


@jit(inline="always")
def _window_block(Xf, of, base, pat, m, st, iw, co, to, Cf, Tf, zero, last, buf, top):
    """Values ``Xf[base : base + m]`` (pattern entries ``pat : pat + m``) of
    :func:`window_grid_encode`; True if one is NaN or infinite.

    One straight-line, vectorised pass computes the codes into ``buf`` (the cell in
    the arithmetic of ``st`` and ``Xf`` together, clamped by min/max, the cell's first
    code gathered from ``Cf``, then the window's thresholds gathered and compared), a
    second converts them into ``of``.
    """
    nan = False
    for q in range(m):
        x, r, f = _position(Xf, base, q, pat, st, iw, zero, last)
        nan |= x - x != 0.0
        k = _at(Cf, co[r], np.int32(f))
        buf[np.uint64(q)] = k + _window_count(Tf, to[r], k, x, top)
    for q in range(m):
        p = np.uint64(q)
        of[base + p] = buf[p]
    return nan


@jit(parallel=True)
def window_flat_encode(Xf, d, st, iw, co, to, Cf, Tf, ends, top, of):
    """:func:`window_grid_encode` on flat views: ``Xf`` and ``of`` are ``X`` and the
    codes raveled (C order), ``Cf`` and ``Tf`` the tables raveled, and ``st``, ``iw``,
    ``co``, ``to`` the per-value pattern of ``R`` whole rows (length ``R * d``): the
    start, inverse width, offset of the feature's row in ``Cf`` and in ``Tf`` of each
    position. ``ends`` is ``[0, G - 1]`` in the dtype of ``st``.

    Rows are processed ``R`` at a time, their ``R * d`` values as one contiguous
    stretch (features inner, as in memory), in blocks of at most ``BLOCK`` values.

    ``top == 0`` is :func:`point_grid_encode` (``-1``: the same, eight values at a time,
    :func:`_point8`): ``Cf`` is then its table ``E`` raveled
    and ``ends`` is ``[0, last, 2**POINT_BITS]``, ``last`` the largest value below ``G``.
    """
    n = Xf.shape[0] // d
    L = st.shape[0]
    zero = ends[0]
    last = ends[1]
    R = L // d
    n_chunks = (n + CHUNK - 1) // CHUNK
    bad = np.zeros(n_chunks, dtype=np.bool_)
    for c in prange(n_chunks):
        buf = carray(_stack_buffer(BLOCK, np.int32), (BLOCK,))
        hi = min((c + 1) * CHUNK, n)
        nan = False
        for b in range(c * CHUNK, hi, R):
            m = (min(b + R, hi) - b) * d
            for s in range(0, m, BLOCK):
                mm = min(BLOCK, m - s)
                base = np.uint64(b * d + s)
                if top <= 0:  # the point grid (-1: eight values at a time)
                    nan |= _point_block(Xf, of, base, s, mm, st, iw, co, to, Cf, Tf, ends, buf,
                                        top < 0)
                # constant widths unroll the halving loop
                elif top == 2:
                    nan |= _window_block(Xf, of, base, s, mm, st, iw, co, to, Cf, Tf, zero,
                                         last, buf, 2)
                elif top == 4:
                    nan |= _window_block(Xf, of, base, s, mm, st, iw, co, to, Cf, Tf, zero,
                                         last, buf, 4)
                elif top == 8:
                    nan |= _window_block(Xf, of, base, s, mm, st, iw, co, to, Cf, Tf, zero,
                                         last, buf, 8)
                elif top == 16:
                    nan |= _window_block(Xf, of, base, s, mm, st, iw, co, to, Cf, Tf, zero,
                                         last, buf, 16)
                else:
                    nan |= _window_block(Xf, of, base, s, mm, st, iw, co, to, Cf, Tf, zero,
                                         last, buf, top)
        bad[c] = nan
    return bad


def window_grid_encode(X, start, inv_width, counts, T, top, out):
    """Codes (the number of thresholds ``<= x``, as :func:`encode`) through a grid of
    cells and a fixed-width branch-free bisection inside the cell.

    Feature ``j``'s value ``x`` falls in cell ``g``, ``(x - start[j]) * inv_width[j]``
    clipped to ``[0, G - 1]`` and truncated, in float64 arithmetic (float32 data
    widened exactly first) unless ``X`` and ``start`` are both float32 (then in
    float32): a map monotone in ``x`` even in floating point (each rounding is), so
    the thresholds of earlier cells are below ``x`` and those of later cells above,
    provided the tables were built with the same arithmetic (``window_grid_tables``).
    The code is ``k = counts[j, g]`` (the thresholds in
    earlier cells) plus the number of ``T[j, k : k + top - 1]`` that are ``<= x``:
    that window holds the cell's thresholds (at most ``top - 1``, the caller's grid
    guarantees it) followed by later ones, which are above ``x``; ``log2(top)`` halving
    steps count them. No data-dependent branch anywhere, and the loop is vectorised
    (:func:`window_flat_encode`: contiguous loads of the values, gathers from the
    tables). Exact for any spacing of the thresholds; ``top`` is usually 2 (one
    comparison) and stays small for companders.

    Parameters
    ----------
    X : (n, d) float array, IN.
    start, inv_width : (d,) float64 arrays, or float32 (the cells' arithmetic), IN.
    counts : (d, G + 1) int32 array, IN: ``counts[j, g]`` thresholds in cells ``< g``.
    T : (d, W) array of X's dtype, IN: each row sorted, ``+inf`` from the feature's
        last threshold on, ``W >= M - 1 + top - 1``. For float32 data the thresholds
        are rounded up to float32 (``_ceil_to_dtype``), and the cells are those of the
        rounded values: same codes as with the float64 thresholds.
    top : int, IN, a power of two above the largest number of thresholds in a cell.
    out : (n, d) unsigned int array, OUT: the codes.

    Returns
    -------
    bad : (n_chunks,) bool array, True where a chunk of rows holds a NaN or inf.
    """
    d = X.shape[1]
    if d == 0 or max(d * counts.shape[1], d * T.shape[1]) >= FLAT_LIMIT:  # 32-bit offsets
        return window_rows_encode(X, start, inv_width, counts, T, top, out)
    return _flat_encode(X, start, inv_width, counts, T, top, out)


def _flat_encode(X, start, inv_width, C, T, top, out):
    """:func:`window_flat_encode` on the flat views of ``X``, ``out`` and the tables,
    with the per-value pattern of ``BLOCK // d`` rows (at least one); ``C`` is the
    counts of :func:`window_grid_encode`, or the ``E`` of :func:`point_grid_encode`
    (``top == 0``)."""
    d = X.shape[1]
    cell = np.float32 if X.dtype == np.float32 and start.dtype == np.float32 else np.float64
    G1 = C.shape[1]
    if top == 0:
        ends = np.array([0, np.nextafter(cell(G1), cell(0)), 1 << POINT_BITS], dtype=cell)
        top = -1 if explicit_gathers() else 0
    else:
        ends = np.array([0, G1 - 2], dtype=cell)
    R = max(1, BLOCK // d)
    j = np.tile(np.arange(d), R)
    flat_out = out.reshape(-1) if out.flags.c_contiguous else np.empty(out.size, out.dtype)
    bad = window_flat_encode(
        np.ascontiguousarray(X).reshape(-1), d,
        np.ascontiguousarray(start, dtype=cell)[j],
        np.ascontiguousarray(inv_width, dtype=cell)[j],
        (j * G1).astype(np.int32), (j * T.shape[1]).astype(np.int32),
        np.ascontiguousarray(C, dtype=np.int32).reshape(-1),
        np.ascontiguousarray(T).reshape(-1), ends, top, flat_out,
    )
    if not out.flags.c_contiguous:
        out[...] = flat_out.reshape(out.shape)
    return bad


window_grid_encode.kernel = window_flat_encode.kernel


#: fraction bits of the in-cell positions of :func:`point_grid_encode` (``E``'s low
#: bits; the cell's first code is above them)
POINT_BITS = 20
#: ``E``'s position of a cell that holds no threshold: above every value's position
POINT_NONE = (1 << POINT_BITS) + 1


@jit(inline="always")
def _point_code(Xf, base, q, pat, st, iw, co, Ef, zero, last, scale):
    """``(x, near, code)`` of the ``q``-th value of a block of :func:`_point_block`:
    the code from the gathered entry, or ``-1`` where ``near``."""
    x, r, f = _position(Xf, base, q, pat, st, iw, zero, last)
    e = _at(Ef, co[r], np.int32(f))
    # the position in the cell in units of 2**-POINT_BITS, truncated: f - floor(f)
    # is exact (Sterbenz), the product too (a power of two), so ip > t means that
    # the value's position is above the threshold's, ip < t - 1 below it
    ip = np.int32((f - np.floor(f)) * scale)
    t = e & np.int32((1 << (POINT_BITS + 1)) - 1)
    near = _near(ip, t)
    return x, near, _select(near, np.int32(-1), (e >> np.int32(POINT_BITS + 1)) + np.int32(ip > t))


@jit(inline="always")
def _point_exact(Xf, base, q, pat, st, iw, co, to, Ef, Tf, zero, last):
    """The code of the ``q``-th value of a block of :func:`_point_block` by comparing
    it with its cell's threshold (exact for every value: a cell without one compares
    with a later cell's, above the value)."""
    x, r, f = _position(Xf, base, q, pat, st, iw, zero, last)
    k = _at(Ef, co[r], np.int32(f)) >> np.int32(POINT_BITS + 1)
    return k + np.int32(x >= _at(Tf, to[r], k))


@jit(inline="always")
def _point_block(Xf, of, base, pat, m, st, iw, co, to, Ef, Tf, ends, buf, lanes):
    """Values ``Xf[base : base + m]`` (pattern entries ``pat : pat + m``) of
    :func:`point_grid_encode` (:func:`window_flat_encode` with ``top <= 0``); True if
    one is NaN or infinite.

    A vectorised pass computes each value's clamped position ``f``, its cell ``g``
    and the cell's entry (one gather), and writes the code into ``buf``, or ``-1``
    where the value's position is too close to the cell's threshold's to tell; a
    scalar pass, run only when there is one, compares those values with the threshold
    (:func:`_point_exact`). A second pass converts ``buf`` into ``of``. With
    ``lanes``, the values go eight at a time through :func:`_point8` (explicit
    gathers, the codes stored into ``of`` directly; eight values of which one is near
    its threshold are redone by :func:`_point_exact`), the last ``m % 8`` as above.
    """
    zero = ends[0]
    last = ends[1]
    scale = ends[2]
    nan = False
    unsure = False
    first = 0
    if lanes:
        first = m - m % 8
        for q in range(0, first, 8):
            flags = _point8(Xf, base, q, pat, st, iw, co, Ef, zero, last, scale, of)
            nan |= (flags & 1) != 0
            if flags > 1:
                for p in range(q, q + 8):
                    of[base + np.uint64(p)] = _point_exact(Xf, base, p, pat, st, iw, co, to,
                                                           Ef, Tf, zero, last)
    for q in range(first, m):
        x, near, code = _point_code(Xf, base, q, pat, st, iw, co, Ef, zero, last, scale)
        nan |= x - x != 0.0
        unsure |= near
        buf[np.uint64(q)] = code
    if unsure:
        for q in range(first, m):
            if buf[np.uint64(q)] < 0:
                buf[np.uint64(q)] = _point_exact(Xf, base, q, pat, st, iw, co, to, Ef, Tf,
                                                 zero, last)
    for q in range(first, m):
        p = np.uint64(q)
        of[base + p] = buf[p]
    return nan


def point_grid_encode(X, start, inv_width, E, T, out):
    """Codes (the number of thresholds ``<= x``, as :func:`encode`) through a grid
    whose cells hold at most one threshold, with one table entry per value.

    Feature ``j``'s value ``x`` has the position ``c = (x - start[j]) *
    inv_width[j]`` clamped to ``[0, G)`` (in the arithmetic of ``start``: float64, or
    float32 for float32 data), in cell ``g = int(c)``. The map is monotone in ``x``
    even in floating point, so ``c > C(t)`` implies ``x > t`` and ``c < C(t)`` implies
    ``x < t`` for a threshold ``t`` of position ``C(t)`` (the same arithmetic,
    ``point_grid_tables``). ``E[j, g]`` holds the number ``k`` of thresholds in
    earlier cells (``E >> (POINT_BITS + 1)``) and ``ceil((C(t) - g) * 2**POINT_BITS)``
    of the cell's threshold (or ``POINT_NONE``): the code is ``k`` plus whether the
    value's position, scaled alike (exact) and truncated, is above it; within one step
    of it (a value at or next to the threshold) the value is compared with
    ``T[j, k]`` itself. So the codes are exact, and all but a few values cost one gather (the
    window grid gathers twice).

    Parameters
    ----------
    X : (n, d) float array, IN.
    start, inv_width : (d,) arrays of the cells' arithmetic, IN.
    E : (d, G) int32 array, IN.
    T : (d, W) array of X's dtype, IN: each row sorted, ``+inf`` past the feature's
        last threshold, ``W >= M`` (as :func:`window_grid_encode`'s).
    out : (n, d) unsigned int array, OUT: the codes.

    Returns
    -------
    bad : (n_chunks,) bool array, True where a chunk of rows holds a NaN or inf.
    """
    d = X.shape[1]
    if d == 0 or max(d * E.shape[1], d * T.shape[1]) >= FLAT_LIMIT:
        raise ValueError("point_grid_encode needs tables of fewer than 2**31 entries")
    return _flat_encode(X, start, inv_width, E, T, 0, out)


point_grid_encode.kernel = window_flat_encode.kernel


#: the largest key of a float32 (that of +inf; NaN keys are clamped to it)
KEY_INF = 0x7F800000


@jit(inline="always")
def _key_code(Xf, i, r, zb, lo, hi, sh, co, Ef):
    """``(x, code)`` of the value ``Xf[i]`` of :func:`key_flat_encode` (pattern entry
    ``r``), one value at a time (the tail of a stretch, and hosts without
    :func:`_key8`), in 64-bit integers."""
    x = Xf[i]
    b = np.int64(_bits32(x))
    m = min(b & 0x7FFFFFFF, KEY_INF)
    key = -m if b < 0 else m
    k2 = min(key + zb[r], 0) if key < 0 else max(key - zb[r], 0) + 1
    k2 = min(max(k2, np.int64(lo[r])), np.int64(hi[r]))
    rr = k2 - lo[r]
    s = np.int64(sh[r])
    e = np.int64(Ef[co[r] + (rr >> s)])
    return x, (e >> (s + 1)) + ((rr & ((1 << s) - 1)) >= (e & ((2 << s) - 1)))


@intrinsic
def _bits32(typingctx, x):
    """The bits of a float32 as an int32."""
    if x != types.float32:
        return None

    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(32))

    return types.int32(types.float32), codegen


@intrinsic
def _key8(typingctx, Xf, i, r, zb, lo, hi, sh, co, Ef, of):
    """Eight values ``Xf[i : i + 8]`` (pattern entries ``r .. r + 7``) of
    :func:`key_flat_encode` at once: :func:`_key_code` on ``<8 x i32>`` vectors (its
    intermediate values all fit 32 bits), the entries by :func:`_gather8`, the codes
    stored into ``of[i : i + 8]``. Returns 1 if a value is NaN or infinite."""
    sig = types.int32(Xf, i, r, zb, lo, hi, sh, co, Ef, of)

    def codegen(context, builder, sig, args):
        Xf_, i_, r_, zb_, lo_, hi_, sh_, co_, Ef_, of_ = args
        tys = sig.args
        i32 = ir.IntType(32)
        vi, vx = ir.VectorType(i32, 8), ir.VectorType(ir.FloatType(), 8)

        def load(k, value, at, vty):
            data = context.make_array(tys[k])(context, builder, value).data
            return builder.load(builder.bitcast(builder.gep(data, [at]), vty.as_pointer()),
                                align=1)

        def const(v):
            return ir.Constant(vi, [v] * 8)

        def smax(a, b):
            return builder.select(builder.icmp_signed(">", a, b), a, b)

        def smin(a, b):
            return builder.select(builder.icmp_signed("<", a, b), a, b)

        x = load(0, Xf_, i_, vx)
        b = builder.bitcast(x, vi)
        m = smin(builder.and_(b, const(0x7FFFFFFF)), const(KEY_INF))
        key = builder.select(builder.icmp_signed("<", b, const(0)), builder.neg(m), m)
        zb = load(3, zb_, r_, vi)
        k2 = builder.select(builder.icmp_signed("<", key, const(0)),
                            smin(builder.add(key, zb), const(0)),
                            builder.add(smax(builder.sub(key, zb), const(0)), const(1)))
        lo = load(4, lo_, r_, vi)
        rr = builder.sub(smin(smax(k2, lo), load(5, hi_, r_, vi)), lo)
        s = load(6, sh_, r_, vi)
        e = _gather8(context, builder,
                     context.make_array(tys[8])(context, builder, Ef_).data,
                     builder.add(load(7, co_, r_, vi), builder.lshr(rr, s)))
        low = builder.and_(rr, builder.sub(builder.shl(const(1), s), const(1)))
        mark = builder.and_(e, builder.sub(builder.shl(const(2), s), const(1)))
        code = builder.add(builder.ashr(e, builder.add(s, const(1))),
                           builder.zext(builder.icmp_signed(">=", low, mark), vi))
        vo = ir.VectorType(context.get_value_type(tys[9].dtype), 8)
        out = builder.gep(context.make_array(tys[9])(context, builder, of_).data, [i_])
        if vo.element.width < 32:
            code = builder.trunc(code, vo)
        builder.store(code, builder.bitcast(out, vo.as_pointer()), align=1)
        nan = builder.fcmp_unordered("!=", builder.fsub(x, x), ir.Constant(vx, [0.0] * 8))
        bits = builder.bitcast(nan, ir.IntType(8))
        return builder.zext(builder.icmp_unsigned("!=", bits, ir.Constant(ir.IntType(8), 0)),
                            i32)

    return sig, codegen


@jit(parallel=True)
def key_flat_encode(Xf, d, zb, lo, hi, sh, co, Ef, lanes, of):
    """:func:`key_grid_encode` on flat views: ``Xf`` and ``of`` are ``X`` and the codes
    raveled (C order), ``Ef`` the table raveled, and ``zb``, ``lo``, ``hi``, ``sh``,
    ``co`` the per-value pattern of ``R`` whole rows (length ``R * d``): each
    position's feature's parameters and the offset of its row in ``Ef``. ``lanes``:
    eight values at a time through :func:`_key8`."""
    n = Xf.shape[0] // d
    R = zb.shape[0] // d
    n_chunks = (n + CHUNK - 1) // CHUNK
    bad = np.zeros(n_chunks, dtype=np.bool_)
    for c in prange(n_chunks):
        hi_row = min((c + 1) * CHUNK, n)
        nan = False
        for b in range(c * CHUNK, hi_row, R):
            m = (min(b + R, hi_row) - b) * d
            base = b * d
            first = m - m % 8 if lanes else 0
            for q in range(0, first, 8):
                nan |= _key8(Xf, base + q, q, zb, lo, hi, sh, co, Ef, of) != 0
            for q in range(first, m):
                x, code = _key_code(Xf, base + q, q, zb, lo, hi, sh, co, Ef)
                nan |= x - x != 0.0
                of[base + q] = code
        bad[c] = nan
    return bad


def key_grid_encode(X, zero_band, low, high, shift, E, out):
    """Codes (the number of thresholds ``<= x``, as :func:`encode`) of float32 data
    through a grid over the values' keys, one table entry per value.

    A float32's key is its bits as a sign-magnitude integer (``-0.0`` and ``0.0``
    both 0, NaN clamped to the key of ``+inf``): it orders the values as the floats
    compare, and log-spaced thresholds are evenly spaced in it. Feature ``j``'s key is
    pulled in by ``zero_band[j]`` towards 0 (keys within it go to 0 below zero and 1 at
    or above it, none of its thresholds' does), clamped to ``[low[j], high[j]]`` and
    offset to ``r = key - low[j]``; the cell is ``r >> shift[j]``. ``E[j, g]`` holds
    the number of thresholds in earlier cells (``E >> (shift + 1)``) and the low bits
    of the key of the cell's threshold (``2 ** shift`` if none): the code is that
    number plus whether ``r``'s low bits reach them. Exact for every value by
    construction (:func:`skquant._base.key_grid_tables`), with no comparison of the
    value itself.

    Parameters
    ----------
    X : (n, d) float32 array, IN.
    zero_band, low, high, shift : (d,) int32 arrays, IN.
    E : (d, G) int32 array, IN.
    out : (n, d) unsigned int array, OUT: the codes.

    Returns
    -------
    bad : (n_chunks,) bool array, True where a chunk of rows holds a NaN or inf.
    """
    d = X.shape[1]
    if X.dtype != np.float32 or d == 0 or d * E.shape[1] >= FLAT_LIMIT:
        raise ValueError("key_grid_encode needs float32 data and fewer than 2**31 entries")
    G = E.shape[1]
    R = max(1, BLOCK // d)
    j = np.tile(np.arange(d), R)
    flat_out = out.reshape(-1) if out.flags.c_contiguous else np.empty(out.size, out.dtype)
    params = [np.ascontiguousarray(a, dtype=np.int32)[j] for a in (zero_band, low, high, shift)]
    bad = key_flat_encode(np.ascontiguousarray(X).reshape(-1), d, *params,
                          (j * G).astype(np.int32),
                          np.ascontiguousarray(E, dtype=np.int32).reshape(-1),
                          explicit_gathers(), flat_out)
    if not out.flags.c_contiguous:
        out[...] = flat_out.reshape(out.shape)
    return bad


#: thresholds of :func:`tree_encode` (codebooks of at most ``TREE_LEVELS`` levels)
TREE_LEVELS = 16
#: values per segment of :func:`tree_encode`'s threshold pattern: a constant, so that
#: the 15 thresholds of a value are loaded at fixed offsets from one address (no
#: register spills), and small enough for the pattern (15 x 128 values) to stay in the
#: L1 cache
TREE_SEGMENT = 128
#: values per stretch of :func:`tree_encode` when the row length divides it: the
#: pattern's 15 x 16 thresholds are then copied to the stack and held in vector
#: registers across the rows (one 512-bit or two 256-bit vectors of float32 per
#: threshold), instead of 15 loads per value
TREE_STRETCH = 16
_TREE_PATTERN = 15 * TREE_STRETCH  # thresholds of a stretch (a literal for the stack)


@intrinsic
def _select(typingctx, cond, a, b):
    """``a if cond else b`` as one LLVM ``select``: numba lowers the conditional
    expression to branches, which LLVM may keep (data-dependent jumps) and which stop
    the vectoriser; a select becomes a vector blend."""

    def codegen(context, builder, sig, args):
        return builder.select(args[0], args[1], args[2])

    return a(types.boolean, a, a), codegen


@jit(inline="always")
def _tree15(Pf, o, x, S):
    """Number of the 15 sorted thresholds ``Pf[o + k * S]`` (``k < 15``, ``S`` a
    constant stride) that are ``<= x``: the four-step bisection of :func:`encode` with
    each step's threshold picked by selects among values already loaded (no gather:
    each select is a vector blend)."""
    s = np.uint64(S)
    t0, t1, t2, t3 = Pf[o], Pf[o + s], Pf[o + 2 * s], Pf[o + 3 * s]
    t4, t5, t6, t7 = Pf[o + 4 * s], Pf[o + 5 * s], Pf[o + 6 * s], Pf[o + 7 * s]
    t8, t9, t10, t11 = Pf[o + 8 * s], Pf[o + 9 * s], Pf[o + 10 * s], Pf[o + 11 * s]
    t12, t13, t14 = Pf[o + 12 * s], Pf[o + 13 * s], Pf[o + 14 * s]
    b3 = x >= t7
    b2 = x >= _select(b3, t11, t3)
    b1 = x >= _select(b3, _select(b2, t13, t9), _select(b2, t5, t1))
    u0 = _select(b1, t2, t0)
    u1 = _select(b1, t6, t4)
    u2 = _select(b1, t10, t8)
    u3 = _select(b1, t14, t12)
    b0 = x >= _select(b3, _select(b2, u3, u2), _select(b2, u1, u0))
    return np.int32(b3) * 8 + np.int32(b2) * 4 + np.int32(b1) * 2 + np.int32(b0)


@jit(inline="always")
def _tree_rows(Xf, Pf, of, lo, hi, L):
    """Values ``Xf[lo : hi]`` of :func:`tree_stretch_encode` (``lo`` a multiple of the
    stretch ``L``, a constant); True if one is NaN or infinite."""
    P = carray(_stack_buffer(_TREE_PATTERN, Xf.dtype), (_TREE_PATTERN,))
    for k in range(15 * L):  # on the stack: no store into `of` can alias it
        P[k] = Pf[k]
    nan = False
    full = lo + (hi - lo) // L * L
    for b in range(lo, full, L):
        base = np.uint64(b)
        for q in range(L):  # one vector (or two): the thresholds stay in registers
            p = np.uint64(q)
            x = Xf[base + p]
            nan |= x - x != 0.0
            of[base + p] = _tree15(P, p, x, L)
    for b in range(full, hi):
        p = np.uint64(b - full)
        x = Xf[np.uint64(b)]
        nan |= x - x != 0.0
        of[np.uint64(b)] = _tree15(P, p, x, L)
    return nan


@jit(parallel=True)
def tree_stretch_encode(Xf, d, Pf, of):
    """:func:`tree_encode` on flat views when ``d`` divides ``TREE_STRETCH``: ``Pf``
    holds the ``k``-th thresholds of the ``TREE_STRETCH`` values of a stretch
    (``TREE_STRETCH // d`` whole rows) at ``Pf[k * TREE_STRETCH + r]``."""
    n = Xf.shape[0] // d
    n_chunks = (n + CHUNK - 1) // CHUNK
    bad = np.zeros(n_chunks, dtype=np.bool_)
    for c in prange(n_chunks):
        lo = c * CHUNK * d
        hi = min((c + 1) * CHUNK, n) * d
        bad[c] = _tree_rows(Xf, Pf, of, lo, hi, TREE_STRETCH)
    return bad


@jit(parallel=True)
def tree_flat_encode(Xf, d, R, Pf, of):
    """:func:`tree_encode` on flat views: ``Xf`` and ``of`` are ``X`` and the codes
    raveled (C order). Rows are processed ``R`` at a time, their ``R * d`` values as one
    contiguous stretch cut into segments of ``TREE_SEGMENT``; ``Pf`` holds, for each
    segment ``s``, the ``k``-th thresholds of its values at
    ``Pf[(15 * s + k) * TREE_SEGMENT + r]`` (value ``r`` of the segment). The codes are
    stored directly: the loads are all contiguous and the selects are blends, so the
    loop is vectorised (with a runtime check that ``of`` overlaps neither input)."""
    S = TREE_SEGMENT
    n = Xf.shape[0] // d
    n_chunks = (n + CHUNK - 1) // CHUNK
    bad = np.zeros(n_chunks, dtype=np.bool_)
    for c in prange(n_chunks):
        hi = min((c + 1) * CHUNK, n)
        nan = False
        for b in range(c * CHUNK, hi, R):
            m = (min(b + R, hi) - b) * d
            for seg in range(0, m, S):
                base = np.uint64(b * d + seg)
                o = np.uint64(seg * 15)
                for q in range(min(S, m - seg)):
                    p = np.uint64(q)
                    x = Xf[base + p]
                    nan |= x - x != 0.0
                    of[base + p] = _tree15(Pf, o + p, x, TREE_SEGMENT)
        bad[c] = nan
    return bad


def tree_encode(X, T, out):
    """Codes (the number of thresholds ``<= x``, as :func:`encode`) of a codebook of at
    most ``TREE_LEVELS`` levels, by a branch-free bisection whose thresholds are
    picked by selects (blends) among the 15 loaded for the value's feature: four
    comparisons and eleven selects per value, no gather, no data-dependent branch.
    The thresholds of a block of rows are laid out as a pattern (features inner, as in
    memory), so every load is contiguous and the loop is vectorised. When ``d``
    divides ``TREE_STRETCH`` the pattern is one stretch of ``TREE_STRETCH`` values
    whose thresholds stay in registers (:func:`tree_stretch_encode`), else segments
    of ``TREE_SEGMENT`` values (:func:`tree_flat_encode`).

    Parameters
    ----------
    X : (n, d) float array, IN.
    T : (d, TREE_LEVELS - 1) array of X's dtype, IN: each row sorted, ``+inf``
        from the feature's last threshold on (for float32 data rounded up to float32,
        as in :func:`window_grid_encode`).
    out : (n, d) unsigned int array, OUT: the codes.

    Returns
    -------
    bad : (n_chunks,) bool array, True where a chunk of rows holds a NaN or inf.
    """
    n, d = X.shape
    if T.shape != (d, TREE_LEVELS - 1) or T.dtype != X.dtype:
        raise ValueError(f"tree_encode needs ({d}, {TREE_LEVELS - 1}) thresholds of {X.dtype}")
    if d == 0:
        return np.zeros((n + CHUNK - 1) // CHUNK, dtype=np.bool_)
    flat_out = out.reshape(-1) if out.flags.c_contiguous else np.empty(out.size, out.dtype)
    Xf = np.ascontiguousarray(X).reshape(-1)
    if TREE_STRETCH % d == 0:
        Pf = np.ascontiguousarray(T[np.tile(np.arange(d), TREE_STRETCH // d)].T).reshape(-1)
        bad = tree_stretch_encode(Xf, d, Pf, flat_out)
    else:
        S = TREE_SEGMENT
        R = max(1, S // d)  # rows per stretch: one if a row is longer than a segment
        n_seg = -(-R * d // S)
        pattern = np.full((n_seg * S, TREE_LEVELS - 1), np.inf, T.dtype)
        pattern[: R * d] = T[np.tile(np.arange(d), R)]
        Pf = np.ascontiguousarray(pattern.reshape(n_seg, S, -1).transpose(0, 2, 1)).reshape(-1)
        bad = tree_flat_encode(Xf, d, R, Pf, flat_out)
    if not out.flags.c_contiguous:
        out[...] = flat_out.reshape(out.shape)
    return bad


tree_encode.kernel = tree_flat_encode.kernel


@jit(inline="always")
def _window(T, j, k, x, top):
    """Number of thresholds ``<= x`` among ``T[j, k : k + top - 1]`` (sorted):
    ``log2(top)`` branch-free halving steps, unsigned indices (no wraparound code)."""
    code = np.uint64(0)
    step = np.uint64(top)
    one = np.uint64(1)
    while step > one:
        step >>= one
        code += step * np.uint64(x >= T[j, k + code + step - one])
    return code


@jit(inline="always")
def _window_rows(X, start, inv_width, counts, T, out, lo, hi, top):
    """Rows ``lo .. hi - 1`` of :func:`window_rows_encode`; True if one holds NaN or inf."""
    d = np.uint64(X.shape[1])
    last = np.float64(counts.shape[1] - 2)
    nan = False
    for r in range(lo, hi):
        i = np.uint64(r)
        for jj in range(d):
            j = np.uint64(jj)
            x = X[i, j]
            nan |= x - x != 0.0
            f = (x - start[j]) * inv_width[j]  # the arithmetic of window_grid_encode
            # clamp to [0, G - 1] without branches (NaN goes to 0; x is checked above)
            f = f if f > 0.0 else 0.0
            f = f if f < last else last
            k = np.uint64(counts[j, np.uint64(f)])
            out[i, j] = k + _window(T, j, k, x, top)
    return nan


@jit(parallel=True)
def window_rows_encode(X, start, inv_width, counts, T, top, out):
    """:func:`window_grid_encode` value by value (2-D indexing, not vectorised): the
    path of tables too large for 32-bit offsets."""
    n = X.shape[0]
    n_chunks = (n + CHUNK - 1) // CHUNK
    bad = np.zeros(n_chunks, dtype=np.bool_)
    for c in prange(n_chunks):
        lo = c * CHUNK
        hi = min(lo + CHUNK, n)
        # constant widths unroll the halving loop
        if top == 2:
            bad[c] = _window_rows(X, start, inv_width, counts, T, out, lo, hi, 2)
        elif top == 4:
            bad[c] = _window_rows(X, start, inv_width, counts, T, out, lo, hi, 4)
        else:
            bad[c] = _window_rows(X, start, inv_width, counts, T, out, lo, hi, top)
    return bad


@jit(parallel=True)
def decode(codes, levels, n_levels, out):
    """Gather ``out[i, j] = levels[j, codes[i, j]]``.

    Parameters
    ----------
    codes : (n, d) integer array, IN.
    levels : (d, M) float array, IN.
    n_levels : (d,) int64 array, IN: valid codes of feature j are ``0 .. n_levels[j]-1``.
    out : (n, d) float array, OUT.

    Returns
    -------
    bad : (n_chunks,) bool array, True where a chunk holds an out-of-range code
        (those entries of ``out`` are left unwritten and the caller raises).
    """
    n, d = codes.shape
    n_chunks = (n + CHUNK - 1) // CHUNK
    bad = np.zeros(n_chunks, dtype=np.bool_)
    for c in prange(n_chunks):
        start = c * CHUNK
        stop = min(start + CHUNK, n)
        ok = True
        for i in range(start, stop):
            for j in range(d):
                k = np.int64(codes[i, j])
                if k >= 0 and k < n_levels[j]:
                    out[i, j] = levels[j, k]
                else:
                    ok = False
        bad[c] = not ok
    return bad


def summarize_sorted(xs, ws, shift, out=None):
    """Collapse a sorted column into distinct values with weights and prefix sums.

    Parameters
    ----------
    xs : (n,) float64 array, IN/OUT, sorted increasingly; overwritten by the distinct
        values (``u`` is a view of it: one allocation fewer, and fresh pages cost as
        much as the pass itself).
    ws : (n,) float64 array, IN, the weights in the same order; an empty array means
        unit weights. Values whose total weight is zero are dropped.
    shift : float, IN, subtracted before the sums (the column's centre).
    out : (3, m) float64 C-contiguous array with ``m > n``, OUT, optional: the block
        the prefix sums are written into (its rows' first ``k + 1`` entries).

    Returns
    -------
    u, W, S1, S2 : the distinct values (k,) and the prefix sums (k + 1,).

    The prefix sums are rows of one block allocated by NumPy (:func:`_summarize` fills
    it): on 10^6 values the pages of three arrays allocated inside the kernel faulted
    one by one, 6,000 faults costing more than the pass. A caller summarising column
    after column passes the same ``out`` (:class:`skquant._summary.SummaryScratch`), so
    the pages fault once.
    """
    n = xs.shape[0]
    if out is None:
        out = np.empty((3, n + 1))
    k = _summarize(xs, ws, shift, out[0], out[1], out[2])
    return xs[:k], out[0, : k + 1], out[1, : k + 1], out[2, : k + 1]


@jit
def _summarize(xs, ws, shift, W, S1, S2):
    """The pass of :func:`summarize_sorted`: ``u`` into ``xs[:k]``, the prefix sums into
    ``W``, ``S1``, ``S2`` (each ``(n + 1,)``, OUT); returns ``k``."""
    n = xs.shape[0]
    weighted = ws.shape[0] > 0
    u = xs  # u[k] is written after xs[k] was read (k <= i)
    W[0] = S1[0] = S2[0] = 0.0
    cw = c1 = c2 = 0.0  # running sums kept in registers
    k = 0
    i = 0
    while i < n:
        v = xs[i]
        tot = ws[i] if weighted else 1.0
        i += 1
        while i < n and xs[i] == v:
            tot += ws[i] if weighted else 1.0
            i += 1
        if tot > 0.0:
            z = v - shift
            cw += tot
            c1 += tot * z
            c2 += tot * z * z
            u[k] = v
            k += 1
            W[k] = cw
            S1[k] = c1
            S2[k] = c2
    return k


summarize_sorted.kernel = _summarize  # the jitted pass (tests look for it)


@jit
def _cell_cost(W, S1, S2, a, b):
    """Weighted sum of squared deviations from the centroid of cell ``u[a:b]``."""
    wt = W[b] - W[a]
    if wt <= 0.0:
        return 0.0
    s = S1[b] - S1[a]
    return max(S2[b] - S2[a] - s * s / wt, 0.0)


@jit
def cell_positions(u, thresholds, pos):
    """``pos[k] = first index with u >= thresholds[k - 1]``; ``pos[0] = 0``, ``pos[M] = len(u)``.

    pos : (M + 1,) int64 array, OUT.
    """
    m = thresholds.shape[0]
    pos[0] = 0
    pos[m + 1] = u.shape[0]
    for k in range(m):
        pos[k + 1] = np.searchsorted(u, thresholds[k])


@jit
def centroids(W, S1, shift, pos, levels):
    """Weighted centroid of each cell; an empty cell keeps its level (deterministic).

    levels : (M,) float64 array, IN/OUT.
    Returns the number of empty cells.
    """
    empty = 0
    for k in range(levels.shape[0]):
        a = pos[k]
        b = pos[k + 1]
        wt = W[b] - W[a]
        if wt > 0.0:
            levels[k] = shift + (S1[b] - S1[a]) / wt
        else:
            empty += 1
    return empty


@jit
def partition_cost(W, S1, S2, pos):
    """Total weighted squared error of the partition ``pos`` with centroid levels."""
    total = 0.0
    for k in range(pos.shape[0] - 1):
        total += _cell_cost(W, S1, S2, pos[k], pos[k + 1])
    return total


@jit
def lloyd_step(u, W, S1, S2, shift, levels, thresholds, pos):
    """One Lloyd–Max iteration on a column summary.

    Thresholds become the midpoints of ``levels``, cells are found by bisection and
    levels become the cells' centroids: O(M log k).

    levels : (M,) float64, IN/OUT. thresholds : (M - 1,) float64, OUT.
    pos : (M + 1,) int64, OUT.

    Returns
    -------
    cost : the weighted squared error after the update.
    """
    for k in range(thresholds.shape[0]):
        thresholds[k] = 0.5 * (levels[k] + levels[k + 1])
    cell_positions(u, thresholds, pos)
    centroids(W, S1, shift, pos, levels)
    return partition_cost(W, S1, S2, pos)


@jit
def lloyd(u, W, S1, S2, shift, levels, max_iter, tol):
    """Lloyd–Max iterations on a column summary until a fixed point or ``tol``.

    The loop lives here, not in Python, because one iteration costs only
    O(M log k) — far less than a Python round trip — unlike k-means on raw data
    where each iteration is a pass over the samples.

    levels : (M,) float64, IN/OUT.

    Returns
    -------
    n_iter, converged : iterations run, and whether the assignment reached a fixed
        point or the relative decrease of the cost fell to ``tol`` or below.
    """
    M = levels.shape[0]
    thresholds = np.empty(M - 1, dtype=np.float64)
    pos = np.empty(M + 1, dtype=np.int64)
    prev_pos = np.full(M + 1, -1, dtype=np.int64)
    prev_cost = np.inf
    for it in range(1, max_iter + 1):
        cost = lloyd_step(u, W, S1, S2, shift, levels, thresholds, pos)
        same = True
        for k in range(M + 1):
            if pos[k] != prev_pos[k]:
                same = False
            prev_pos[k] = pos[k]
        if same or (it > 1 and prev_cost - cost <= tol * prev_cost):
            return it, True
        prev_cost = cost
    return max_iter, False


@jit
def split_merge(u, W, S1, S2, shift, levels):
    """One escape move from a Lloyd fixed point; returns False if none lowers the cost.

    Lloyd stops at local minima, often with a level wasted on an empty or tiny cell
    (tied or multi-modal data). The move merges the adjacent pair of cells whose
    merge costs least and splits, at its best point, the cell whose split gains most;
    it is made only when the gain exceeds the merge cost, so the distortion
    decreases. A cell's split gain is below its own cost, so only cells costing more
    than the cheapest merge are scanned: on smooth data none is, and this is O(M).

    levels : (M,) float64, IN/OUT (the centroids of the new cells when True).
    """
    M = levels.shape[0]
    if M < 3:
        return False
    thresholds = np.empty(M - 1, dtype=np.float64)
    for k in range(M - 1):
        thresholds[k] = 0.5 * (levels[k] + levels[k + 1])
    pos = np.empty(M + 1, dtype=np.int64)
    cell_positions(u, thresholds, pos)
    cost = np.empty(M, dtype=np.float64)
    total = 0.0
    for k in range(M):
        cost[k] = _cell_cost(W, S1, S2, pos[k], pos[k + 1])
        total += cost[k]
    merge = np.empty(M - 1, dtype=np.float64)
    for p in range(M - 1):
        merge[p] = _cell_cost(W, S1, S2, pos[p], pos[p + 2]) - cost[p] - cost[p + 1]
    # stable sorts: ties (empty cells, tied data) in a fixed order, that of the NumPy
    # twin (``_small``)
    cheapest = np.argsort(merge, kind="mergesort")[:3]  # one avoids the pairs of any cell k
    best_gain = 0.0
    best_cut = -1
    best_pair = -1
    for k in np.argsort(-cost, kind="mergesort"):
        p = -1
        for q in cheapest:
            if q != k - 1 and q != k:
                p = q
                break
        if p < 0:
            continue
        if cost[k] - merge[p] <= best_gain:
            break  # cells come by decreasing cost: no later one can gain more
        a = pos[k]
        b = pos[k + 1]
        for c in range(a + 1, b):
            gain = cost[k] - _cell_cost(W, S1, S2, a, c) - _cell_cost(W, S1, S2, c, b) - merge[p]
            if gain > best_gain:
                best_gain = gain
                best_cut = c
                best_pair = p
    if best_cut < 0 or best_gain <= 1e-12 * total:
        return False
    new_pos = np.empty(M + 1, dtype=np.int64)
    i = 0
    for k in range(M + 1):
        if k == best_pair + 1:
            continue  # the merged pair loses its inner boundary
        new_pos[i] = pos[k]
        i += 1
    new_pos[M] = best_cut
    new_pos.sort()
    centroids(W, S1, shift, new_pos, levels)
    return True


@jit
def lloyd_escape(u, W, S1, S2, shift, levels, max_iter, tol, max_moves):
    """Lloyd from ``levels``, then escape moves each followed by Lloyd again.

    levels : (M,) float64, IN/OUT.

    Returns
    -------
    n_iter, converged : total Lloyd iterations, and whether the last run converged.
    """
    n_iter, converged = lloyd(u, W, S1, S2, shift, levels, max_iter, tol)
    for _ in range(max_moves):
        if not split_merge(u, W, S1, S2, shift, levels):
            break
        it, converged = lloyd(u, W, S1, S2, shift, levels, max_iter, tol)
        n_iter += it
    return n_iter, converged


@jit
def sse_exact(u, W, pos, levels):
    """Exact weighted squared error of ``levels`` on the cells ``pos`` (no prefix sums)."""
    total = 0.0
    for k in range(pos.shape[0] - 1):
        y = levels[k]
        for i in range(pos[k], pos[k + 1]):
            e = u[i] - y
            total += (W[i + 1] - W[i]) * e * e
    return total
