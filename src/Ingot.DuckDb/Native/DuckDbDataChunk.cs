using System.Runtime.InteropServices;

namespace Ingot.DuckDb.Native;

/// <summary>
/// A <c>duckdb_data_chunk</c> filled column by column straight into DuckDB's vectors, then handed to an appender in one
/// call (<see cref="DuckDbAppender.AppendChunk"/>): no per-value native call except for strings. Supports the flat types
/// BOOLEAN, INTEGER, BIGINT, DOUBLE, TIMESTAMP, TIMESTAMPTZ and VARCHAR. Rows are written at indexes below <see cref="Capacity"/>;
/// <see cref="Reset"/> starts a new batch.
/// </summary>
internal sealed unsafe class DuckDbDataChunk : IDisposable
{
    private readonly DuckDbType[] _types;
    private readonly nint[] _vectors;
    private readonly nint[] _data;
    private readonly nint[] _validity;
    private nint _chunk;

    public DuckDbDataChunk(IReadOnlyList<DuckDbType> types)
    {
        _types = [.. types];
        var logical = new nint[_types.Length];
        try
        {
            for (var i = 0; i < _types.Length; i++)
            {
                if (_types[i] is not (DuckDbType.Boolean or DuckDbType.Integer or DuckDbType.BigInt or DuckDbType.Double or DuckDbType.Timestamp or DuckDbType.TimestampTz or DuckDbType.Varchar))
                    throw new ArgumentException($"a data chunk column cannot have type {_types[i]}", nameof(types));
                logical[i] = NativeMethods.duckdb_create_logical_type(_types[i]);
            }
            fixed (nint* p = logical) _chunk = NativeMethods.duckdb_create_data_chunk(p, (ulong)logical.Length);
            if (_chunk == 0) throw new DuckDbException("DuckDB could not create a data chunk");
        }
        finally
        {
            for (var i = 0; i < logical.Length; i++)
            {
                if (logical[i] != 0) NativeMethods.duckdb_destroy_logical_type(ref logical[i]);
            }
        }
        Capacity = checked((int)NativeMethods.duckdb_vector_size());
        _vectors = new nint[_types.Length];
        _data = new nint[_types.Length];
        _validity = new nint[_types.Length];
        Reset();
    }

    /// <summary>Rows per chunk (DuckDB's vector size, 2048 by default).</summary>
    public int Capacity { get; }

    internal nint Handle => _chunk != 0 ? _chunk : throw new ObjectDisposedException(nameof(DuckDbDataChunk));

    /// <summary>Empties the chunk; vector buffers may move, so the cached pointers are fetched again.</summary>
    public void Reset()
    {
        NativeMethods.duckdb_data_chunk_reset(Handle);
        for (var i = 0; i < _vectors.Length; i++)
        {
            _vectors[i] = NativeMethods.duckdb_data_chunk_get_vector(_chunk, (ulong)i);
            _data[i] = (nint)NativeMethods.duckdb_vector_get_data(_vectors[i]);
            _validity[i] = 0;
        }
    }

    /// <summary>The number of rows the next append takes from this chunk.</summary>
    public void SetSize(int rows)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(rows, Capacity);
        NativeMethods.duckdb_data_chunk_set_size(Handle, (ulong)rows);
    }

    public void SetNull(int column, int row)
    {
        CheckRow(row);
        if (_validity[column] == 0)
        {
            NativeMethods.duckdb_vector_ensure_validity_writable(_vectors[column]);
            _validity[column] = (nint)NativeMethods.duckdb_vector_get_validity(_vectors[column]);
        }
        ((ulong*)_validity[column])[row >> 6] &= ~(1UL << (row & 63));
        // Keep a NULL row's string slot well-formed: DuckDB never reads it, but a stale pointer there is needless risk.
        if (_types[column] == DuckDbType.Varchar) ((Int128*)_data[column])[row] = default;
    }

    public void SetBoolean(int column, int row, bool value) => ((byte*)Data(column, row, DuckDbType.Boolean))[row] = value ? (byte)1 : (byte)0;
    public void SetInt32(int column, int row, int value) => ((int*)Data(column, row, DuckDbType.Integer))[row] = value;
    public void SetInt64(int column, int row, long value) => ((long*)Data(column, row, DuckDbType.BigInt))[row] = value;
    public void SetDouble(int column, int row, double value) => ((double*)Data(column, row, DuckDbType.Double))[row] = value;

    /// <summary>A TIMESTAMP (no zone) or TIMESTAMPTZ: microseconds since the Unix epoch, UTC, in both.</summary>
    public void SetTimestamp(int column, int row, DateTimeOffset value)
    {
        CheckRow(row);
        if (_types[column] is not (DuckDbType.Timestamp or DuckDbType.TimestampTz))
            throw new ArgumentException($"column {column} has type {_types[column]}, not a timestamp", nameof(column));
        ((long*)_data[column])[row] = (value.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / TimeSpan.TicksPerMicrosecond;
    }

    /// <summary>A VARCHAR given as UTF-8 bytes; DuckDB copies them.</summary>
    public void SetUtf8(int column, int row, ReadOnlySpan<byte> utf8)
    {
        Data(column, row, DuckDbType.Varchar);
        fixed (byte* p = utf8)
        {
            // A non-null pointer even for the empty string.
            byte empty = 0;
            NativeMethods.duckdb_vector_assign_string_element_len(_vectors[column], (ulong)row, utf8.IsEmpty ? &empty : p, (ulong)utf8.Length);
        }
    }

    public void Dispose()
    {
        var p = Interlocked.Exchange(ref _chunk, 0);
        if (p != 0) NativeMethods.duckdb_destroy_data_chunk(ref p);
    }

    private nint Data(int column, int row, DuckDbType type)
    {
        CheckRow(row);
        if (_types[column] != type) throw new ArgumentException($"column {column} has type {_types[column]}, not {type}", nameof(column));
        return _data[column];
    }

    private void CheckRow(int row)
    {
        if ((uint)row >= (uint)Capacity) throw new ArgumentOutOfRangeException(nameof(row), row, $"a data chunk holds {Capacity} rows");
        if (_chunk == 0) throw new ObjectDisposedException(nameof(DuckDbDataChunk));
    }
}
