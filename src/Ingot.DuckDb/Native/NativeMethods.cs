using System.Reflection;
using System.Runtime.InteropServices;

namespace Ingot.DuckDb.Native;

/// <summary>
/// A thin binding to DuckDB's C API (<c>duckdb.h</c>, 1.5). Handles are raw pointers here; the safe wrappers
/// (<see cref="DuckDbDatabase"/>, <see cref="DuckDbConnection"/>, <see cref="DuckDbAppender"/>, <see cref="DuckDbResult"/>)
/// own and free them.
/// </summary>
internal static unsafe partial class NativeMethods
{
    internal const string Library = "duckdb";

    /// <summary>The environment variable that points at a user-supplied <c>libduckdb.so</c>.</summary>
    internal const string LibraryEnvironmentVariable = "INGOT_DUCKDB_LIBRARY";

    /// <summary><c>sizeof(duckdb_result)</c>: six pointer-sized fields.</summary>
    internal const int ResultSize = 48;

    internal const int DuckDbSuccess = 0;

    static NativeMethods() => NativeLibrary.SetDllImportResolver(typeof(NativeMethods).Assembly, Resolve);

    /// <summary>Forces the resolver registration and the library load; throws a clear error when it cannot load.</summary>
    internal static void EnsureLoaded() => _ = LibraryVersion();

    private static nint Resolve(string libraryName, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (libraryName != Library) return 0;
        var tried = new List<string>();

        var fromEnvironment = Environment.GetEnvironmentVariable(LibraryEnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            if (NativeLibrary.TryLoad(fromEnvironment, out var handle)) return handle;
            tried.Add($"{LibraryEnvironmentVariable}={fromEnvironment}");
        }

        var dirs = new[] { Path.GetDirectoryName(assembly.Location), AppContext.BaseDirectory }
            .Where(d => !string.IsNullOrEmpty(d))
            .Select(d => Path.TrimEndingDirectorySeparator(d!))
            .Distinct(StringComparer.Ordinal);
        foreach (var dir in dirs)
        {
            var candidate = Path.Combine(dir, "libduckdb.so");
            if (NativeLibrary.TryLoad(candidate, out var handle)) return handle;
            tried.Add(candidate);
        }

        if (NativeLibrary.TryLoad(libraryName, assembly, searchPath, out var fromDefault)) return fromDefault;
        if (NativeLibrary.TryLoad("libduckdb.so", out fromDefault)) return fromDefault;
        tried.Add("the default library search path");

        throw new DllNotFoundException(
            $"Ingot could not load the DuckDB native library (tried {string.Join(", ", tried)}). " +
            $"The build copies it from the DuckDB.NET.Bindings.Full package next to the binaries (linux-x64); for another platform build with -r <rid>, or set {LibraryEnvironmentVariable} to the path of libduckdb.so.");
    }

    [LibraryImport(Library, EntryPoint = "duckdb_library_version")]
    private static partial nint LibraryVersionNative();

    internal static string LibraryVersion() => Marshal.PtrToStringUTF8(LibraryVersionNative()) ?? "";

    // ---- database and connection --------------------------------------------------------------------------

    [LibraryImport(Library, EntryPoint = "duckdb_open_ext", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int duckdb_open_ext(string? path, out nint database, nint config, out nint error);

    [LibraryImport(Library, EntryPoint = "duckdb_close")]
    internal static partial void duckdb_close(ref nint database);

    [LibraryImport(Library, EntryPoint = "duckdb_connect")]
    internal static partial int duckdb_connect(nint database, out nint connection);

    [LibraryImport(Library, EntryPoint = "duckdb_disconnect")]
    internal static partial void duckdb_disconnect(ref nint connection);

    [LibraryImport(Library, EntryPoint = "duckdb_free")]
    internal static partial void duckdb_free(nint pointer);

    // ---- queries and materialized results ------------------------------------------------------------------

    /// <summary><paramref name="sql"/> is NUL-terminated UTF-8; <paramref name="result"/> points at <see cref="ResultSize"/> bytes.</summary>
    [LibraryImport(Library, EntryPoint = "duckdb_query")]
    internal static partial int duckdb_query(nint connection, byte* sql, nint result);

    [LibraryImport(Library, EntryPoint = "duckdb_destroy_result")]
    internal static partial void duckdb_destroy_result(nint result);

    [LibraryImport(Library, EntryPoint = "duckdb_result_error")]
    internal static partial nint duckdb_result_error(nint result);

    [LibraryImport(Library, EntryPoint = "duckdb_column_count")]
    internal static partial ulong duckdb_column_count(nint result);

    [LibraryImport(Library, EntryPoint = "duckdb_row_count")]
    internal static partial ulong duckdb_row_count(nint result);

    [LibraryImport(Library, EntryPoint = "duckdb_rows_changed")]
    internal static partial ulong duckdb_rows_changed(nint result);

    [LibraryImport(Library, EntryPoint = "duckdb_column_name")]
    internal static partial nint duckdb_column_name(nint result, ulong column);

    [LibraryImport(Library, EntryPoint = "duckdb_column_type")]
    internal static partial DuckDbType duckdb_column_type(nint result, ulong column);

    [LibraryImport(Library, EntryPoint = "duckdb_value_is_null")]
    internal static partial byte duckdb_value_is_null(nint result, ulong column, ulong row);

    [LibraryImport(Library, EntryPoint = "duckdb_value_boolean")]
    internal static partial byte duckdb_value_boolean(nint result, ulong column, ulong row);

    [LibraryImport(Library, EntryPoint = "duckdb_value_int64")]
    internal static partial long duckdb_value_int64(nint result, ulong column, ulong row);

    [LibraryImport(Library, EntryPoint = "duckdb_value_double")]
    internal static partial double duckdb_value_double(nint result, ulong column, ulong row);

    /// <summary>Returns a string the caller frees with <see cref="duckdb_free"/>; NULL for LIST/STRUCT values (cast in SQL).</summary>
    [LibraryImport(Library, EntryPoint = "duckdb_value_varchar")]
    internal static partial nint duckdb_value_varchar(nint result, ulong column, ulong row);

    // ---- appender ----------------------------------------------------------------------------------------

    [LibraryImport(Library, EntryPoint = "duckdb_appender_create", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int duckdb_appender_create(nint connection, string? schema, string table, out nint appender);

    [LibraryImport(Library, EntryPoint = "duckdb_appender_error")]
    internal static partial nint duckdb_appender_error(nint appender);

    [LibraryImport(Library, EntryPoint = "duckdb_appender_flush")]
    internal static partial int duckdb_appender_flush(nint appender);

    [LibraryImport(Library, EntryPoint = "duckdb_appender_close")]
    internal static partial int duckdb_appender_close(nint appender);

    [LibraryImport(Library, EntryPoint = "duckdb_appender_destroy")]
    internal static partial int duckdb_appender_destroy(ref nint appender);

    [LibraryImport(Library, EntryPoint = "duckdb_appender_end_row")]
    internal static partial int duckdb_appender_end_row(nint appender);

    [LibraryImport(Library, EntryPoint = "duckdb_append_bool")]
    internal static partial int duckdb_append_bool(nint appender, byte value);

    [LibraryImport(Library, EntryPoint = "duckdb_append_int32")]
    internal static partial int duckdb_append_int32(nint appender, int value);

    [LibraryImport(Library, EntryPoint = "duckdb_append_int64")]
    internal static partial int duckdb_append_int64(nint appender, long value);

    [LibraryImport(Library, EntryPoint = "duckdb_append_double")]
    internal static partial int duckdb_append_double(nint appender, double value);

    /// <summary><c>duckdb_timestamp</c> is a struct holding one int64 (microseconds since the epoch), passed by value.</summary>
    [LibraryImport(Library, EntryPoint = "duckdb_append_timestamp")]
    internal static partial int duckdb_append_timestamp(nint appender, long micros);

    [LibraryImport(Library, EntryPoint = "duckdb_append_varchar_length")]
    internal static partial int duckdb_append_varchar_length(nint appender, byte* value, ulong length);

    [LibraryImport(Library, EntryPoint = "duckdb_append_null")]
    internal static partial int duckdb_append_null(nint appender);

    [LibraryImport(Library, EntryPoint = "duckdb_arrow_array_scan", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int duckdb_arrow_array_scan(nint connection, string tableName, ArrowSchema* schema, ArrowArray* array, out nint stream);

    [LibraryImport(Library, EntryPoint = "duckdb_destroy_arrow_stream")]
    internal static partial void duckdb_destroy_arrow_stream(ref nint stream);
}

/// <summary>The subset of <c>duckdb_type</c> values Ingot reads.</summary>
internal enum DuckDbType
{
    Invalid = 0,
    Boolean = 1,
    TinyInt = 2,
    SmallInt = 3,
    Integer = 4,
    BigInt = 5,
    UTinyInt = 6,
    USmallInt = 7,
    UInteger = 8,
    UBigInt = 9,
    Float = 10,
    Double = 11,
    Timestamp = 12,
    Date = 13,
    Time = 14,
    Interval = 15,
    HugeInt = 16,
    Varchar = 17,
    Blob = 18,
    Decimal = 19,
    List = 24,
    Struct = 25,
    TimestampTz = 31,
}
