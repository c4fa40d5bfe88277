using System.Globalization;
using System.Text;
using Ingot.Destinations;
using Ingot.DuckDb.Native;
using Ingot.Records;
using Ingot.Sources;
using System.Runtime.CompilerServices;

namespace Ingot.DuckDb.Parquet;

/// <summary>
/// A chunk's records handed to DuckDB for a <c>COPY ... TO</c>: read once from their UTF-8 (<see cref="RowTable"/>), built
/// into one Arrow batch scanned in place (<see cref="ArrowBatch"/>), with Ingot's metadata columns after the fields.
/// Shared by the Parquet and Iceberg destinations, which differ only in the files they plan and the COPY they run.
/// </summary>
internal static class BronzeStaging
{
    /// <summary>The file ordinal column of a chunk staged for several files (the partitioned COPY's key).</summary>
    public const string FileColumn = "__ingot_file";

    /// <summary>A chunk's rows registered with a session as a one-shot view over an Arrow batch, until the COPY has run.</summary>
    internal sealed class Staged(DuckDbSession session, string view, ArrowBatch batch, string selectList) : IDisposable
    {
        /// <summary>The session holding the view: the COPY and any query over the written files run here.</summary>
        public DuckDbSession Connection { get; } = session;
        public string SelectAll() => $"SELECT {FileColumn}, {selectList} FROM {view}";
        public string SelectFields() => $"SELECT {selectList} FROM {view}";

        public void Dispose()
        {
            try { Connection.Execute($"DROP VIEW IF EXISTS {view}"); }
            catch (DuckDbException) { /* the connection closes next; a temporary view dies with it */ }
            batch.Dispose();
            Connection.Dispose();
        }
    }

    /// <summary>
    /// Registers a chunk's rows with a new session of <paramref name="database"/>: the fields typed as <paramref name="types"/>
    /// says, then the metadata columns. <paramref name="files"/>: the rows of each output file, in order (file ordinal =
    /// index; with more than one file the view carries <see cref="FileColumn"/> for a partitioned COPY).
    /// </summary>
    public static Staged Stage(DuckDbDatabase database, RunContext run, WorkUnit chunk, Record[] records, RowTable rows, ColumnType[] types, IReadOnlyList<List<int>> files, CancellationToken cancellationToken)
    {
        var names = rows.Names;

        var select = new StringBuilder();
        for (var i = 0; i < names.Count; i++)
        {
            var id = DuckDbSession.Identifier(names[i]);
            // Lists travel as JSON text and become LISTs in the COPY.
            select.Append(types[i] switch
            {
                ColumnType.VarcharList or ColumnType.EmptyList => $"CAST(from_json({id}, '[\"VARCHAR\"]') AS VARCHAR[]) AS {id}",
                ColumnType.DoubleList => $"CAST(from_json({id}, '[\"DOUBLE\"]') AS DOUBLE[]) AS {id}",
                _ => id,
            }).Append(", ");
        }
        var ingestedAt = run.IngestedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss.ffffff", CultureInfo.InvariantCulture) + "+00";
        // The run's constants are one-value ENUMs: Parquet gets the same UTF-8 string column (dictionary-encoded), but DuckDB
        // writes it without hashing every row's value into a dictionary — a third of the write time for a narrow record.
        select.Append(CultureInfo.InvariantCulture,
            $"{Constant(run.RunId.ToString())} AS {MetadataColumns.IngestionId}, " +
            $"TIMESTAMPTZ {DuckDbSession.Literal(ingestedAt)} AS {MetadataColumns.IngestedAt}, " +
            $"{Constant(chunk.SourceSystem)} AS {MetadataColumns.SourceSystem}, " +
            $"{Constant(chunk.Stream)} AS {MetadataColumns.Stream}, " +
            $"{Constant(chunk.Key)} AS {MetadataColumns.ChunkKey}, " +
            $"{MetadataColumns.RecordHash}, " +
            $"{MetadataColumns.EventTs}");

        var batch = BuildBatch(records, rows, files, types, cancellationToken);
        var view = $"ingot_stage_{Guid.NewGuid():N}";
        DuckDbSession? session = null;
        try
        {
            session = database.Connect();
            batch.Register(session.Connection, view);
            return new Staged(session, view, batch, select.ToString());
        }
        catch
        {
            batch.Dispose();
            session?.Dispose();
            throw;
        }
    }

    private static string Constant(string value) => $"CAST({DuckDbSession.Literal(value)} AS ENUM({DuckDbSession.Literal(value)}))";

    /// <summary>
    /// The chunk's rows as one Arrow batch, file by file: the file ordinal, the fields (typed as the stream's schema
    /// says, lists as JSON text), the record hash and the event time (microseconds, UTC).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static ArrowBatch BuildBatch(Record[] records, RowTable rows, IReadOnlyList<List<int>> files, ColumnType[] types, CancellationToken cancellationToken)
    {
        var order = new int[rows.RowCount];
        var n = 0;
        // DuckDB's scan of a single Arrow array hands the COPY the columns it projects by position, so the batch holds
        // exactly the columns the COPY reads, in its order: the file ordinal only when the chunk spans several files.
        var multiFile = files.Count > 1;
        var first = multiFile ? 1 : 0;
        var batch = new ArrowBatch(order.Length, rows.ColumnCount + 2 + first);
        try
        {
            var ordinals = multiFile ? batch.AddFixed<int>(FileColumn, "i") : default;
            for (var f = 0; f < files.Count; f++)
            {
                foreach (var r in files[f])
                {
                    if (multiFile) ordinals[n] = f;
                    order[n++] = r;
                }
            }
            var scratch = new byte[256];
            for (var c = 0; c < rows.ColumnCount; c++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                AddColumn(batch, c + first, rows, c, types[c], order, ref scratch);
            }
            var hashes = batch.AddUtf8(MetadataColumns.RecordHash, (long)order.Length * RowTable.HashLength);
            foreach (var r in order) hashes.Append(rows.Hashes.AsSpan(r * RowTable.HashLength, RowTable.HashLength));
            var eventColumn = rows.ColumnCount + 1 + first;
            var events = batch.AddFixed<long>(MetadataColumns.EventTs, "tsu:UTC");
            for (var i = 0; i < order.Length; i++)
            {
                if (records[order[i]].EventTs is { } ts) events[i] = (ts.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / TimeSpan.TicksPerMicrosecond;
                else batch.SetNull(eventColumn, i);
            }
            return batch;
        }
        catch
        {
            batch.Dispose();
            throw;
        }
    }

    /// <summary>One field column; values convert as <see cref="ColumnTypes"/> describes for the column's type.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AddColumn(ArrowBatch batch, int target, RowTable rows, int column, ColumnType type, int[] order, ref byte[] scratch)
    {
        var name = rows.Names[column];
        switch (type)
        {
            case ColumnType.BigInt:
                AddNumbers(batch, target, rows, column, type, order, "l", RowTable.ParseInt64);
                break;
            case ColumnType.Double:
                AddNumbers(batch, target, rows, column, type, order, "g", RowTable.ParseDouble);
                break;
            case ColumnType.Boolean:
                batch.AddBoolean(name, i =>
                {
                    var cell = rows.CellAt(order[i], column);
                    return cell.Kind switch
                    {
                        CellKind.Missing or CellKind.Null => null,
                        CellKind.True => true,
                        CellKind.False => false,
                        _ => throw Misfit(rows, order[i], column, cell, type),
                    };
                });
                break;
            default:
            {
                long bytes = 0;
                foreach (var r in order) bytes += rows.CellAt(r, column).Length;
                var values = batch.AddUtf8(name, bytes);
                foreach (var r in order)
                {
                    var cell = rows.CellAt(r, column);
                    switch (cell.Kind)
                    {
                        case CellKind.Missing or CellKind.Null:
                            values.AppendNull();
                            break;
                        case CellKind.String or CellKind.EscapedString:
                            values.Append(rows.StringValue(r, cell, ref scratch));
                            break;
                        default:
                            values.Append(rows.JsonText(r, cell, ref scratch));
                            break;
                    }
                }
                break;
            }
        }
    }

    private delegate T NumberParser<T>(ReadOnlySpan<byte> number);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void AddNumbers<T>(ArrowBatch batch, int target, RowTable rows, int column, ColumnType type, int[] order, string format, NumberParser<T> parse)
        where T : unmanaged
    {
        var values = batch.AddFixed<T>(rows.Names[column], format);
        for (var i = 0; i < order.Length; i++)
        {
            var cell = rows.CellAt(order[i], column);
            if (cell.Kind is CellKind.Missing or CellKind.Null) batch.SetNull(target, i);
            else if (cell.Kind == CellKind.Number) values[i] = parse(rows.Bytes(order[i], cell));
            else throw Misfit(rows, order[i], column, cell, type);
        }
    }

    private static InvalidDataException Misfit(RowTable rows, int row, int column, Cell cell, ColumnType type) =>
        new($"record {row + 1}: field '{rows.Names[column]}' holds {cell.Kind}, which does not fit the column's type {type.Sql()}");
}
