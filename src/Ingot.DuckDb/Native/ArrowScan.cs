using System.Runtime.InteropServices;
using DuckDB.NET.Data;

namespace Ingot.DuckDb.Native;

/// <summary>
/// The only calls into DuckDB's C API that bypass the ADO.NET provider: DuckDB.NET.Data 1.5.6.1 reads results as Arrow
/// (<c>ExecuteArrowStream</c>) but does not wrap the other direction, <c>duckdb_arrow_array_scan</c> (or
/// <c>duckdb_arrow_scan</c>), which registers Arrow data in native memory as a view — and that scan is how a chunk reaches
/// the <c>COPY</c> without a per-value append (<see cref="ArrowBatch"/>). The calls take the provider's own native
/// connection handle (<see cref="DuckDBConnection.NativeConnection"/>), so the view lives on the same connection and
/// database the SQL runs on, and they bind to the very library the provider loaded (see <see cref="Resolve"/>).
/// </summary>
internal static unsafe partial class ArrowScan
{
    private const string Library = "duckdb";
    private const int DuckDbSuccess = 0;

    static ArrowScan() => NativeLibrary.SetDllImportResolver(typeof(ArrowScan).Assembly, Resolve);

    /// <summary>
    /// Registers <paramref name="schema"/>/<paramref name="array"/> as the temporary view <paramref name="view"/> on
    /// <paramref name="connection"/>; returns the scan's stream, destroyed with <see cref="Destroy"/> before the batch is freed.
    /// </summary>
    public static nint Register(DuckDBConnection connection, string view, ArrowSchema* schema, ArrowArray* array)
    {
        var handle = connection.NativeConnection;
        var added = false;
        handle.DangerousAddRef(ref added);
        try
        {
            if (duckdb_arrow_array_scan(handle.DangerousGetHandle(), view, schema, array, out var stream) != DuckDbSuccess)
            {
                if (stream != 0) duckdb_destroy_arrow_stream(ref stream);
                throw new DuckDbException($"DuckDB could not scan the Arrow batch as view '{view}'");
            }
            return stream;
        }
        finally
        {
            if (added) handle.DangerousRelease();
        }
    }

    public static void Destroy(ref nint stream)
    {
        if (stream != 0) duckdb_destroy_arrow_stream(ref stream);
        stream = 0;
    }

    /// <summary>
    /// The library the provider's bindings load (their resolver, then the default probing next to them): the same file,
    /// so the same loaded image — a handle from one copy of DuckDB must never reach another.
    /// </summary>
    private static nint Resolve(string libraryName, System.Reflection.Assembly assembly, DllImportSearchPath? searchPath) =>
        libraryName == Library ? NativeLibrary.Load(Library, typeof(DuckDB.NET.Native.NativeMethods).Assembly, searchPath) : 0;

    // Not wrapped by DuckDB.NET (1.5.6.1): the Arrow-in scan, see the class summary.
    [LibraryImport(Library, EntryPoint = "duckdb_arrow_array_scan", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int duckdb_arrow_array_scan(nint connection, string tableName, ArrowSchema* schema, ArrowArray* array, out nint stream);

    // Not wrapped by DuckDB.NET (1.5.6.1): frees the stream duckdb_arrow_array_scan returned.
    [LibraryImport(Library, EntryPoint = "duckdb_destroy_arrow_stream")]
    private static partial void duckdb_destroy_arrow_stream(ref nint stream);
}
