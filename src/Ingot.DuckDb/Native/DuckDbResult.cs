using System.Runtime.InteropServices;

namespace Ingot.DuckDb.Native;

/// <summary>A materialized <c>duckdb_result</c> (48 bytes in native memory); dispose to free it.</summary>
internal sealed unsafe class DuckDbResult : IDisposable
{
    private nint _result;

    internal DuckDbResult() => _result = (nint)NativeMemory.AllocZeroed(NativeMethods.ResultSize);

    ~DuckDbResult() => Free();

    internal nint Pointer => _result != 0 ? _result : throw new ObjectDisposedException(nameof(DuckDbResult));

    public int ColumnCount => checked((int)NativeMethods.duckdb_column_count(Pointer));
    public long RowCount => checked((long)NativeMethods.duckdb_row_count(Pointer));
    public long RowsChanged => checked((long)NativeMethods.duckdb_rows_changed(Pointer));

    public string ColumnName(int column) => Marshal.PtrToStringUTF8(NativeMethods.duckdb_column_name(Pointer, (ulong)column)) ?? "";
    public DuckDbType ColumnType(int column) => NativeMethods.duckdb_column_type(Pointer, (ulong)column);
    public bool IsNull(int column, long row) => NativeMethods.duckdb_value_is_null(Pointer, (ulong)column, (ulong)row) != 0;
    public long GetInt64(int column, long row) => NativeMethods.duckdb_value_int64(Pointer, (ulong)column, (ulong)row);
    public double GetDouble(int column, long row) => NativeMethods.duckdb_value_double(Pointer, (ulong)column, (ulong)row);
    public bool GetBoolean(int column, long row) => NativeMethods.duckdb_value_boolean(Pointer, (ulong)column, (ulong)row) != 0;

    /// <summary>The value as DuckDB renders it; null for SQL NULL and for LIST/STRUCT values (cast those to VARCHAR in SQL).</summary>
    public string? GetString(int column, long row)
    {
        var p = NativeMethods.duckdb_value_varchar(Pointer, (ulong)column, (ulong)row);
        if (p == 0) return null;
        try { return Marshal.PtrToStringUTF8(p); }
        finally { NativeMethods.duckdb_free(p); }
    }

    /// <summary>A boxed CLR value: long, double, bool or string (everything else is rendered by DuckDB as text).</summary>
    public object? GetValue(int column, long row)
    {
        if (IsNull(column, row)) return null;
        return ColumnType(column) switch
        {
            DuckDbType.Boolean => GetBoolean(column, row),
            DuckDbType.TinyInt or DuckDbType.SmallInt or DuckDbType.Integer or DuckDbType.BigInt
                or DuckDbType.UTinyInt or DuckDbType.USmallInt or DuckDbType.UInteger => GetInt64(column, row),
            DuckDbType.Float or DuckDbType.Double => GetDouble(column, row),
            _ => GetString(column, row),
        };
    }

    public void Dispose()
    {
        Free();
        GC.SuppressFinalize(this);
    }

    private void Free()
    {
        var p = Interlocked.Exchange(ref _result, 0);
        if (p == 0) return;
        NativeMethods.duckdb_destroy_result(p);
        NativeMemory.Free((void*)p);
    }
}
