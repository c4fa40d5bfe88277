using DuckDB.NET.Data;

namespace Ingot.DuckDb;

/// <summary>
/// One in-memory DuckDB database shared by several sessions: the destinations stage each unit on a session of its own
/// (<see cref="Connect"/>), so units land concurrently while sharing one buffer pool and thread pool. The database lives
/// while this object or any session from it is open. Thread-safe: <see cref="Connect"/> from any thread.
/// </summary>
internal sealed class DuckDbDatabase : IDisposable
{
    private readonly DuckDBConnection _root;

    private DuckDbDatabase(DuckDBConnection root) => _root = root;

    public static DuckDbDatabase Open() => new(DuckDbSession.OpenConnection(path: null));

    /// <summary>A new session on this database (the provider's <c>Duplicate</c>: a second native connection to the same database).</summary>
    public DuckDbSession Connect()
    {
        var connection = _root.Duplicate();
        try
        {
            connection.Open();
        }
        catch (DuckDBException e)
        {
            connection.Dispose();
            throw new DuckDbException($"DuckDB could not open a connection: {e.Message}", e);
        }
        return new DuckDbSession(connection);
    }

    public void Dispose() => _root.Dispose();
}
