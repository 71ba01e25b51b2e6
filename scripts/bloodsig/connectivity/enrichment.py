"""The enrichment kernel of CMap scoring: the weighted Kolmogorov-Smirnov ES of gene sets on
every signature of a gene-major store (bloodsig.connectivity.store), with numba, reading only
the query genes' rows, in parallel over blocks of signatures (cmapM Connectivity.fastESCore).
"""

from __future__ import annotations

import mmap
import os
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from llvmlite import ir
from numba.core import cgutils, types
from numba.extending import intrinsic

BLOCK_BYTES = 2**30  # store values read per block of signatures (ranks + scores); two blocks
# are held (one scored, one read). Large blocks make long row segments: a batch of 25 queries
# reads ~5,400 rows, and each read request costs the VM kernel time whatever its length.


READ_THREADS = 8  # concurrent reads of a block's row segments ...


READ_ROWS = 32  # ... this many rows per task


MAX_BLOCK = 65536  # signatures per block at most


CHUNK = 256  # signatures per parallel work item within a block ...


GROUP_GENES = 600  # set members per kernel call within a block (an up + down query: 300)


TILE_VALUES = 65536  # ... copied in tiles of at most this many (signature, member) values
_U1, _U6, _U63 = np.uint64(1), np.uint64(6), np.uint64(63)


def set_threads(n: int) -> None:
    """Run the numba kernels on at most n threads (a rule's `threads:`)."""
    numba.set_num_threads(max(1, min(int(n), numba.config.NUMBA_NUM_THREADS)))


@intrinsic
def _popcount(typingctx, x):
    """The number of set bits of an unsigned integer (one instruction)."""
    def codegen(context, builder, sig, args):
        return builder.ctpop(args[0])
    return x(x), codegen


@intrinsic
def _prefetch(typingctx, arr, row, col):
    """Start loading the cache line of arr[row, col] (llvm.prefetch: no fault, no result)."""
    def codegen(context, builder, sig, args):
        ary = context.make_array(sig.args[0])(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, sig.args[0], ary, args[1:])
        i32, i8p = ir.IntType(32), ir.IntType(8).as_pointer()
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
            "llvm.prefetch.p0")
        builder.call(fn, [builder.bitcast(ptr, i8p), i32(0), i32(3), i32(1)])  # read, keep
        return context.get_dummy_value()
    return types.void(arr, row, col), codegen


@numba.njit(inline="always")
def _prefetch_run(arr, row, start, n):
    """Prefetch arr[row, start:start + n], line by line."""
    for c in range(start, start + n, max(1, 64 // arr.itemsize)):
        _prefetch(arr, row, c)
    _prefetch(arr, row, start + n - 1)


@numba.njit(parallel=True, nogil=True, cache=True)
def _es_block(rk, sc, rk_lead, sc_lead, memb_rows, set_ptr, max_rank, weighted, out):
    """ES of every set on every signature of a block, in parallel over chunks of signatures.

    rk, sc: ranks and scores of a block of signatures, gene-major: signature j of block row g
    is rk[g, rk_lead[g] + j] (and sc[g, sc_lead[g] + j]; _read_rows); memb_rows: the block
    row of each set member, set s being memb_rows[set_ptr[s]:set_ptr[s + 1]]; out (n_sets,
    n_cols).

    For each set and signature the hits are put in rank order without a comparison sort:
    each hit sets the bit of its rank in a bitmap (ranks are distinct within a signature),
    and its place in that order is the number of set bits below its own (a running count
    per 64-bit word and a popcount within the word). The walk then visits only the hits:
    between two hits the running sum falls linearly, so its extremes are the values after a
    hit (local maxima) and just before one (local minima), advanced in cmapM's order of
    operations (fastESCore). The ES is the extreme of larger magnitude, the first one on a
    tie (the post-hit value at the same hit)."""
    n_sets = set_ptr.shape[0] - 1
    n_cols = out.shape[1]
    n_memb = memb_rows.shape[0]
    n_words = max_rank // 64 + 1
    miss = np.empty(n_sets)
    max_size = 0
    for s in range(n_sets):
        size = set_ptr[s + 1] - set_ptr[s]
        max_size = max(max_size, size)
        miss[s] = -1.0 / (max_rank - size) if size != max_rank else -1.0
    tile = max(4, min(CHUNK, TILE_VALUES // max(n_memb, 1)))
    n_chunks = (n_cols + CHUNK - 1) // CHUNK
    for ch in numba.prange(n_chunks):
        bitmap = np.zeros(n_words, np.uint64)
        below = np.empty(n_words, np.int64)
        srank = np.empty((2, max_size), np.int64)
        sw = np.empty((2, max_size), np.float32)
        # The chunk's values are copied tile by tile into signature-major buffers, a column
        # per set member, so that a signature's set is read from one short contiguous row
        # (the block is gene-major).
        trk = np.empty((tile, n_memb), rk.dtype)
        twt = np.ones((tile, n_memb), np.float32)
        tot = np.empty((n_sets, tile))
        stop = min(n_cols, (ch + 1) * CHUNK)
        for t0 in range(ch * CHUNK, stop, tile):
            n_tile = min(tile, stop - t0)
            for s in range(n_sets):
                # The sum of the hits' weights, member by member as a walk adds them, for all
                # the tile's signatures at once.
                tot[s, :n_tile] = 0.0 if weighted else np.float64(set_ptr[s + 1] - set_ptr[s])
                for j in range(set_ptr[s], set_ptr[s + 1]):
                    g = memb_rows[j]
                    # A tile's row segments are short (a few cache lines) and far apart, so
                    # the copy waits on memory: the next member's are prefetched meanwhile.
                    if j + 1 < n_memb:
                        h = memb_rows[j + 1]
                        _prefetch_run(rk, h, rk_lead[h] + t0, n_tile)
                        if weighted:
                            _prefetch_run(sc, h, sc_lead[h] + t0, n_tile)
                    r0 = rk_lead[g] + t0
                    for c in range(n_tile):
                        trk[c, j] = rk[g, r0 + c]
                    if weighted:
                        s0 = sc_lead[g] + t0
                        for c in range(n_tile):
                            w = abs(sc[g, s0 + c])
                            twt[c, j] = w
                            tot[s, c] += np.float64(w)
            for c in range(0, n_tile, 2):
                d = min(c + 1, n_tile - 1)  # the pair's second signature (an odd last: c again)
                for s in range(n_sets):
                    p0, p1 = set_ptr[s], set_ptr[s + 1]
                    _in_rank_order(trk[c], twt[c], p0, p1, bitmap, below, srank[0], sw[0])
                    _in_rank_order(trk[d], twt[d], p0, p1, bitmap, below, srank[1], sw[1])
                    inv_c, inv_d = _inverse(tot[s, c]), _inverse(tot[s, d])
                    ms = miss[s]
                    top_c, low_c, top_d, low_d = _extremes2(srank, sw, p1 - p0, ms, inv_c, inv_d)
                    out[s, t0 + c] = _es(srank[0], sw[0], p1 - p0, ms, inv_c, top_c, low_c)
                    out[s, t0 + d] = _es(srank[1], sw[1], p1 - p0, ms, inv_d, top_d, low_d)


@numba.njit(inline="always")
def _in_rank_order(rrow, wrow, p0, p1, bitmap, below, srank, sw):
    """The ranks rrow[p0:p1] and weights wrow[p0:p1] of a set's hits, in rank order, into
    srank and sw (rank-select on a bitmap of the ranks; bitmap all zero before and after)."""
    for i in range(p0, p1):
        r = np.uint64(rrow[i])
        bitmap[r >> _U6] |= _U1 << (r & _U63)
    n = 0
    for word in range(bitmap.shape[0]):
        below[word] = n
        n += _popcount(bitmap[word])
    for i in range(p0, p1):
        r = np.uint64(rrow[i])
        word = r >> _U6
        at = below[word] + _popcount(bitmap[word] & ((_U1 << (r & _U63)) - _U1))
        srank[at] = np.int64(r)
        sw[at] = wrow[i]
    bitmap[:] = 0


@numba.njit(inline="always")
def _inverse(total):
    return 1.0 / total if total > 0 else 0.0


@numba.njit(inline="always")
def _extremes2(srank, sw, n, ms, inv0, inv1):
    """The walks of two signatures' hits (srank[0], sw[0] and srank[1], sw[1], n each) side
    by side: each running sum is a chain of dependent additions, and two independent chains
    keep the adder busy. Returns each walk's largest value after a hit and smallest just
    before one (cmapM's order of operations)."""
    es0, es1, prev0, prev1 = 0.0, 0.0, 0, 0
    top0, top1, low0, low1 = -np.inf, -np.inf, np.inf, np.inf
    for k in range(n):
        hit0 = np.float64(sw[0, k]) * inv0
        hit1 = np.float64(sw[1, k]) * inv1
        es0 += (srank[0, k] - prev0 - 1) * ms + hit0
        es1 += (srank[1, k] - prev1 - 1) * ms + hit1
        pre0, pre1 = es0 - hit0, es1 - hit1
        top0 = es0 if es0 > top0 else top0
        top1 = es1 if es1 > top1 else top1
        low0 = pre0 if pre0 < low0 else low0
        low1 = pre1 if pre1 < low1 else low1
        prev0, prev1 = srank[0, k], srank[1, k]
    return top0, low0, top1, low1


@numba.njit(inline="always")
def _es(srank, sw, n, ms, inv, top, low):
    """The ES of a walk with extremes top and low: the one of larger magnitude, the first one
    on a tie (rare: walked again to find which came first); 0 for an empty set."""
    if n == 0:
        return 0.0
    if top != -low:
        return top if top > -low else low
    es, prev = 0.0, 0
    for k in range(n):
        hit = np.float64(sw[k]) * inv
        es += (srank[k] - prev - 1) * ms + hit
        if es == top:
            return top
        if es - hit == low:
            return low
        prev = srank[k]
    return top

def enrichment_scores(ranks: np.ndarray, scores: np.ndarray, gene_sets: list[np.ndarray],
                      max_rank: int | None = None, weighted: bool = True,
                      columns: np.ndarray | None = None) -> np.ndarray:
    """ES of each gene set on each signature, (n_sets, n_signatures) float64.

    ranks, scores: gene-major (n_genes, n_signatures), e.g. a store's memory maps; rank 1 is
    the most up-regulated gene of a signature. gene_sets: arrays of row indices (genes absent
    from the store removed beforehand). max_rank: the number of ranked genes (default:
    n_genes). columns: score only these signatures (default all). An empty set scores 0.

    The store is read once per call, block by block of signatures: each block reads the rows
    of the union of all sets' genes (one contiguous run per gene), so a batch of queries costs
    one pass over its genes, and the next block is read while this one is scored. Within a
    block, sets are scored in groups of about GROUP_GENES genes, so that a signature's values
    of a group stay in the fastest cache.
    """
    n_genes, n_sig = ranks.shape
    cols = None if columns is None else np.asarray(columns, np.int64)
    n_cols = n_sig if cols is None else len(cols)
    sets = [np.asarray(s, dtype=np.int64) for s in gene_sets]
    flat = np.concatenate(sets) if sets else np.zeros(0, np.int64)
    if len(flat) and (flat.min() < 0 or flat.max() >= n_genes):
        raise ValueError("gene set index outside the store")
    if any(len(np.unique(s)) != len(s) for s in sets):
        raise ValueError("a gene set lists a gene twice")
    out = np.zeros((len(sets), n_cols))
    if not (n_cols and len(flat)):
        return out
    genes = np.unique(flat)  # block rows, in store order (sequential reads)
    groups, start, size = [], 0, 0
    for i, s in enumerate(sets):
        size += len(s)
        if size >= GROUP_GENES or i == len(sets) - 1:
            part = sets[start:i + 1]
            ptr = np.concatenate([[0], np.cumsum([len(x) for x in part])]).astype(np.int64)
            groups.append((start, i + 1, np.searchsorted(genes, np.concatenate(part)), ptr))
            start, size = i + 1, 0
    max_rank = int(max_rank or n_genes)
    item = ranks.dtype.itemsize + scores.dtype.itemsize
    step = int(min(MAX_BLOCK, max(CHUNK, BLOCK_BYTES // (item * len(genes)))))
    # Blocks of at most `step` signatures spanning at most `step` store columns (a sample of
    # columns is read as the span that holds it); a block's results go to the columns' places.
    order = np.arange(n_cols) if cols is None else np.argsort(cols, kind="stable")
    where = np.arange(n_sig) if cols is None else cols[order]
    blocks, b0 = [], 0
    while b0 < n_cols:
        b1 = min(b0 + step, int(np.searchsorted(where, where[b0] + step)))
        blocks.append((b0, b1))
        b0 = b1

    # Two buffers per array, reused block after block (one scored, one being read): fresh
    # arrays per block cost a page fault per 4 KB, ~0.3 CPU s per GB read.
    buffers = [tuple(_block_buffer(a, len(genes), step) for a in (ranks, scores))
               for _ in range(min(2, len(blocks)))]

    def read(i):
        b0, b1 = blocks[i]
        c0, c1 = int(where[b0]), int(where[b1 - 1]) + 1
        parts = [_read_rows(a, genes, c0, c1, readers, buf)
                 for a, buf in zip((ranks, scores), buffers[i % 2], strict=True)]
        if c1 - c0 == b1 - b0:  # every column of the span
            return parts
        pick = where[b0:b1] - c0
        return [(_take(*part, pick), np.zeros(len(genes), np.int64)) for part in parts]

    with ThreadPoolExecutor(1) as pool, ThreadPoolExecutor(READ_THREADS) as readers:
        pending = pool.submit(read, 0)
        for i, (b0, b1) in enumerate(blocks):
            (rk, rk_lead), (sc, sc_lead) = pending.result()
            if i + 1 < len(blocks):
                pending = pool.submit(read, i + 1)
            for first, last, memb_rows, ptr in groups:
                block = np.zeros((last - first, b1 - b0))
                _es_block(rk, sc, rk_lead, sc_lead, memb_rows, ptr, max_rank, bool(weighted),
                          block)
                out[first:last, order[b0:b1]] = block
    return out


def _whole_memmap(arr) -> bool:
    """Whether arr is an entire C-ordered memory-mapped file array (not a view into one), so
    that its rows can be read with pread at known file offsets."""
    if not (isinstance(arr, np.memmap) and arr.filename and arr.ndim == 2
            and arr.flags.c_contiguous and getattr(arr, "_mmap", None) is not None):
        return False
    start = np.frombuffer(arr._mmap, dtype=np.uint8).ctypes.data
    return arr.ctypes.data == start + arr.offset % mmap.ALLOCATIONGRANULARITY


def _direct(arr) -> bool:
    """Whether to read arr's file past the page cache (O_DIRECT): when DIRECT_READS says so,
    or (None) when the file is over a third of the machine's memory, so that the cache could
    not keep it between queries anyway and would only cost the kernel time to fill and evict
    (on a 29 GB store, about 1 CPU s per GB read)."""
    if not hasattr(os, "O_DIRECT"):
        return False
    if DIRECT_READS is not None:
        return DIRECT_READS
    return 3 * arr.nbytes > os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


DIRECT_READS: bool | None = None  # O_DIRECT reads of a store: always, never, None = by size


ALIGN = 4096  # O_DIRECT offsets, lengths and buffers are multiples of this


def _pitch(arr, n_cols: int) -> int:
    """Values per row of a block buffer of n_cols columns of arr: whole ALIGN units, room for
    a row's aligned span (O_DIRECT) around the columns wherever the span starts."""
    return (-(-n_cols * arr.dtype.itemsize // ALIGN) + 1) * ALIGN // arr.dtype.itemsize


def _block_buffer(arr, n_rows: int, n_cols: int) -> np.ndarray:
    """An ALIGN-aligned flat buffer for _read_rows of n_rows rows and up to n_cols columns."""
    n = n_rows * _pitch(arr, n_cols) * arr.dtype.itemsize
    raw = np.empty(n + ALIGN, np.uint8)
    shift = -raw.ctypes.data % ALIGN
    return raw[shift:shift + n].view(arr.dtype)


def _take(block: np.ndarray, lead: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Columns cols (relative to the read's first column) of _read_rows' (block, lead), as a
    C-ordered (n_rows, len(cols)) array."""
    return block[np.arange(len(block))[:, None], lead[:, None] + cols]


def _read_rows(arr, rows: np.ndarray, c0: int, c1: int, readers,
               buffer: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """arr[rows, c0:c1] as (block, lead): row i's columns are block[i, lead[i]:lead[i] + c1 -
    c0]. From a store's memory map, the segments are read with pread on a thread pool rather
    than through page faults: a fault reads the device's whole read-ahead window (often MBs)
    around each small segment, which multiplies the bytes read many times over once the store
    is larger than the page cache. A store much larger than memory is read with O_DIRECT
    (_direct): each segment's aligned span straight into its row of the block, which starts
    at lead (no copy). buffer: from _block_buffer, to hold the block instead of a new one."""
    n = c1 - c0
    lead = np.zeros(len(rows), np.int64)
    if not _whole_memmap(arr):
        return np.ascontiguousarray(arr[rows, c0:c1]), lead
    item, n_sig = arr.dtype.itemsize, arr.shape[1]
    fd = None
    if _direct(arr):
        try:
            fd = os.open(arr.filename, os.O_RDONLY | os.O_DIRECT)
        except OSError:  # a file system without O_DIRECT (tmpfs)
            fd = None
    direct = fd is not None
    if fd is None:
        fd = os.open(arr.filename, os.O_RDONLY)
    pitch = _pitch(arr, n) if direct else n
    if buffer is None:
        buffer = _block_buffer(arr, len(rows), n)
    block = buffer[:len(rows) * pitch].reshape(len(rows), pitch)
    flat = block.reshape(-1).view(np.uint8)
    offset = arr.offset + (np.asarray(rows, np.int64) * n_sig + c0) * item
    start = offset - offset % ALIGN if direct else offset
    need = offset + n * item - start  # bytes of a span up to the segment's end
    size = -(-need // ALIGN) * ALIGN if direct else need
    lead[:] = (offset - start) // item
    start, need, size = start.tolist(), need.tolist(), size.tolist()
    row_bytes = pitch * item
    try:
        def part(lo):
            for i in range(lo, min(lo + READ_ROWS, len(rows))):
                view = flat[i * row_bytes:i * row_bytes + size[i]]
                if os.preadv(fd, [view], start[i]) < need[i]:
                    raise OSError(f"short read from {arr.filename}")
        list(readers.map(part, range(0, len(rows), READ_ROWS)))
    finally:
        os.close(fd)
    return block, lead
