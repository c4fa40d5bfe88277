using System.Buffers;
using System.Reflection;
using System.Text.Json;
using System.Text.Json.Nodes;
using Ingot.Destinations;
using Ingot.Records;
using Ingot.Sources;
using Npgsql;
using NpgsqlTypes;

namespace Ingot.Postgres.Destination;

/// <summary>
/// Lands one unit in its stream's bronze table, in one transaction: at the start it deletes the rows the unit key (and
/// every unit it retires) left from an earlier landing; each page's rows then go in by binary COPY once their months'
/// partitions exist; <see cref="CompleteAsync"/> records the unit in <c>ingot_units</c> and commits. Disposed without
/// completing, the transaction rolls back and the table is as it was.
/// </summary>
internal sealed class BronzeWriter(PostgresDestination owner, RunContext run, WorkUnit unit, BronzeTable table) : IUnitWriter
{
    /// <summary>Ingot's version, as <c>pipeline_version</c>.</summary>
    internal static readonly string Version = typeof(Record).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? typeof(Record).Assembly.GetName().Version?.ToString() ?? "unknown";

    private static readonly JsonWriterOptions MetadataJson = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private readonly DateTime _ingestedAt = run.IngestedAt.UtcDateTime;
    private readonly DateOnly _ingestedDay = DateOnly.FromDateTime(run.IngestedAt.UtcDateTime);
    private readonly IReadOnlyList<string> _primaryKey = owner.PrimaryKeys.GetValueOrDefault(unit.Stream) ?? [];
    private readonly ArrayBufferWriter<byte> _scratch = new(256);
    private NpgsqlConnection? _connection;
    private NpgsqlTransaction? _tx;
    private NpgsqlBinaryImporter? _copy;
    private HashSet<int> _copyMonths = [];
    private long _rows;
    private DateOnly? _first, _last;
    private bool _committed;

    private string CopySql => $"COPY {table.Qualified} (source, raw_data, ingested_at, source_timestamp, raw_id, validation_status, error_message, metadata, environment, "
        + "pipeline_run_id, pipeline_version, _stream, _source_system, _chunk_key, _record_hash, partition_key) FROM STDIN (FORMAT BINARY)";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        _connection = await owner.OpenAsync(cancellationToken).ConfigureAwait(false);
        _tx = await _connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        // The same unit never lands twice at once (the pipeline's lease says so); the lock makes sure of it.
        await using (var lockUnit = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtext($1))", _connection, _tx) { Parameters = { new() { Value = $"ingot-unit:{owner.Pipeline}:{table.Display}:{unit.Key}" } } })
            await lockUnit.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        IReadOnlyList<string> keys = [unit.Key, .. unit.Replaces];
        foreach (var earlier in await BronzeUnits.LockAsync(_connection, _tx, owner.Schema, owner.Pipeline, table.Name, keys, cancellationToken).ConfigureAwait(false))
        {
            // The partition-key range lets the planner skip the months the earlier landing never touched.
            var pruned = earlier.First is not null ? " AND partition_key BETWEEN $3 AND $4" : "";
            await using var delete = new NpgsqlCommand($"DELETE FROM {table.Qualified} WHERE _chunk_key = $1 AND pipeline_run_id = $2{pruned}", _connection, _tx) { CommandTimeout = 0 };
            delete.Parameters.Add(new() { Value = earlier.Key });
            delete.Parameters.Add(new() { Value = earlier.RunId });
            if (earlier.First is { } f && earlier.Last is { } l)
            {
                delete.Parameters.Add(new() { Value = f, NpgsqlDbType = NpgsqlDbType.Date });
                delete.Parameters.Add(new() { Value = l, NpgsqlDbType = NpgsqlDbType.Date });
            }
            await delete.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        if (unit.Replaces.Count > 0) await BronzeUnits.DeleteAsync(_connection, _tx, owner.Schema, owner.Pipeline, table.Name, unit.Replaces, cancellationToken).ConfigureAwait(false);
    }

    public async Task WriteAsync(FetchedPage page, CancellationToken cancellationToken)
    {
        if (page.Records.Count == 0) return;
        var rows = Prepare(page);
        if (table.Partitioning == BronzePartitioning.Monthly)
        {
            var months = new HashSet<int>();
            foreach (var r in rows) months.Add(BronzeTable.MonthOf(r.PartitionKey));
            if (!months.IsSubsetOf(_copyMonths))
            {
                await table.EnsurePartitionsAsync(owner.DataSource, months, cancellationToken).ConfigureAwait(false);
                // A COPY routes rows to the partitions that existed when it started: a new month needs a new COPY.
                await FinishCopyAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        if (_copy is null)
        {
            _copyMonths = table.KnownMonths();
            _copy = await _connection!.BeginBinaryImportAsync(CopySql, cancellationToken).ConfigureAwait(false);
            _copy.Timeout = TimeSpan.Zero;
        }
        var copy = _copy;
        foreach (var r in rows)
        {
            await copy.StartRowAsync(cancellationToken).ConfigureAwait(false);
            await copy.WriteAsync(unit.SourceName, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
            await copy.WriteAsync(r.Raw, NpgsqlDbType.Jsonb, cancellationToken).ConfigureAwait(false);
            await copy.WriteAsync(_ingestedAt, NpgsqlDbType.TimestampTz, cancellationToken).ConfigureAwait(false);
            if (r.EventTs is { } ts) await copy.WriteAsync(ts, NpgsqlDbType.TimestampTz, cancellationToken).ConfigureAwait(false);
            else await copy.WriteNullAsync(cancellationToken).ConfigureAwait(false);
            await WriteTextAsync(copy, r.RawId, cancellationToken).ConfigureAwait(false);
            await copy.WriteAsync(r.Check.StatusText, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
            await WriteTextAsync(copy, r.Check.Message, cancellationToken).ConfigureAwait(false);
            await copy.WriteAsync(r.Metadata, NpgsqlDbType.Jsonb, cancellationToken).ConfigureAwait(false);
            await copy.WriteAsync(owner.Environment, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
            await copy.WriteAsync(run.RunId, NpgsqlDbType.Uuid, cancellationToken).ConfigureAwait(false);
            await copy.WriteAsync(Version, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
            await copy.WriteAsync(unit.Stream, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
            await copy.WriteAsync(unit.SourceSystem, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
            await copy.WriteAsync(unit.Key, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
            await copy.WriteAsync(r.Hash, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
            await copy.WriteAsync(r.PartitionKey, NpgsqlDbType.Date, cancellationToken).ConfigureAwait(false);
            if (_first is null || r.PartitionKey < _first) _first = r.PartitionKey;
            if (_last is null || r.PartitionKey > _last) _last = r.PartitionKey;
        }
    }

    private static ValueTask WriteTextAsync(NpgsqlBinaryImporter copy, string? text, CancellationToken cancellationToken) =>
        text is null ? new ValueTask(copy.WriteNullAsync(cancellationToken)) : new ValueTask(copy.WriteAsync(text, NpgsqlDbType.Text, cancellationToken));

    private async Task FinishCopyAsync(CancellationToken cancellationToken)
    {
        if (_copy is null) return;
        _rows += (long)await _copy.CompleteAsync(cancellationToken).ConfigureAwait(false);
        await _copy.DisposeAsync().ConfigureAwait(false);
        _copy = null;
    }

    public async Task<Receipt> CompleteAsync(UnitTotals totals, CancellationToken cancellationToken)
    {
        await FinishCopyAsync(cancellationToken).ConfigureAwait(false);
        if (_rows != totals.Records)
            throw new InvalidDataException($"chunk {unit.Key}: PostgreSQL took {_rows} rows into {table.Display}, but the unit has {totals.Records} records; rolled back");
        await BronzeUnits.RecordAsync(_connection!, _tx!, owner.Schema,
            new BronzeUnits.Landed(owner.Pipeline, table.Name, unit, run.RunId, _rows, _first, _last, owner.Time.GetUtcNow(), totals.Checkpoint), cancellationToken).ConfigureAwait(false);
        await _tx!.CommitAsync(cancellationToken).ConfigureAwait(false);
        _committed = true;
        // The token names the table: a receipt is kept even for a unit of no rows.
        return new Receipt(owner.Name, [], _rows, table.Display);
    }

    public async ValueTask DisposeAsync()
    {
        if (_copy is not null)
        {
            // Disposing an unfinished import cancels it; the transaction's rollback below undoes the rest.
            try { await _copy.DisposeAsync().ConfigureAwait(false); } catch (NpgsqlException) { } catch (InvalidOperationException) { }
            _copy = null;
        }
        if (_tx is not null)
        {
            if (!_committed)
            {
                try { await _tx.RollbackAsync().ConfigureAwait(false); } catch (NpgsqlException) { } catch (InvalidOperationException) { }
            }
            await _tx.DisposeAsync().ConfigureAwait(false);
        }
        if (_connection is not null) await _connection.DisposeAsync().ConfigureAwait(false);
    }

    // ---- rows ---------------------------------------------------------------------------------------------------

    private readonly record struct Row(ReadOnlyMemory<byte> Raw, DateTime? EventTs, string? RawId, RecordCheck Check, byte[] Metadata, string Hash, DateOnly PartitionKey);

    private Row[] Prepare(FetchedPage page)
    {
        var records = page.Records;
        var checks = page.Checks;
        if (checks is not null && checks.Count != records.Count)
            throw new InvalidOperationException($"page {page.Key}: {checks.Count} validation results for {records.Count} records");
        var file = unit.Bounds as FileBounds;
        var pageMetadata = file is null ? Metadata(page, null, 0) : null;
        var rows = new Row[records.Count];
        for (var i = 0; i < rows.Length; i++)
        {
            var record = records[i];
            JsonNode node;
            ReadOnlyMemory<byte> raw;
            if (record.TryGetUtf8(out var utf8))
            {
                raw = utf8;
                // Parsed for the hash and raw_id only: the record stays text for every other destination.
                node = JsonNode.Parse(utf8.Span) ?? throw new InvalidDataException($"page {page.Key}: record {i + 1} is JSON null, not an object");
            }
            else
            {
                node = record.Fields;
                raw = JsonSerializer.SerializeToUtf8Bytes(record.Fields);
            }
            var eventTs = record.EventTs?.UtcDateTime;
            rows[i] = new Row(raw, eventTs, RawId(node), checks?[i] ?? RecordCheck.Valid, pageMetadata ?? Metadata(page, file, record.Line),
                RecordHasher.Md5Hex(node), eventTs is { } t ? DateOnly.FromDateTime(t) : _ingestedDay);
        }
        return rows;
    }

    /// <summary>Provenance (DESIGN §5.2): the file, its content hash and the record's line; or the request (redacted by the source) and its status. And the page key.</summary>
    private byte[] Metadata(FetchedPage page, FileBounds? file, long line)
    {
        _scratch.ResetWrittenCount();
        using (var w = new Utf8JsonWriter(_scratch, MetadataJson))
        {
            w.WriteStartObject();
            if (file is not null)
            {
                w.WriteString("file_path", file.Path);
                w.WriteString("file_hash", file.ContentHash);
                w.WriteNumber("line", line);
            }
            else
            {
                w.WriteString("endpoint", Ingot.Http.Redact.Message(page.RedactedRequest));
                w.WriteNumber("status", page.Status);
                w.WriteString("fetched_at", page.FetchedAt.UtcDateTime);
            }
            w.WriteString("page_key", page.Key);
            w.WriteEndObject();
        }
        return _scratch.WrittenSpan.ToArray();
    }

    /// <summary><c>raw_id</c>: the primary key's value as text (one field), or a JSON array of the values (several); null without a key.</summary>
    private string? RawId(JsonNode record)
    {
        if (_primaryKey.Count == 0) return null;
        if (_primaryKey.Count == 1) return Text(Find(record, _primaryKey[0]));
        var values = new JsonArray();
        var any = false;
        foreach (var path in _primaryKey)
        {
            var value = Find(record, path);
            any |= value is not null;
            values.Add(value?.DeepClone());
        }
        return any ? values.ToJsonString() : null;
    }

    private static JsonNode? Find(JsonNode record, string path)
    {
        JsonNode? node = record;
        foreach (var part in path.Split('.'))
        {
            if (node is not JsonObject obj || !obj.TryGetPropertyValue(part, out node)) return null;
        }
        return node;
    }

    private static string? Text(JsonNode? value) => value switch
    {
        null => null,
        JsonValue v when v.GetValueKind() == JsonValueKind.String => v.GetValue<string>(),
        _ => value.ToJsonString(),
    };
}
