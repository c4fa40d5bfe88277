using System.Runtime.CompilerServices;
using Ingot.Config;
using Ingot.Destinations;
using Ingot.Http;
using Ingot.Sources;
using Npgsql;

namespace Ingot.Postgres.Destination;

/// <summary>
/// The <c>postgres</c> destination (DESIGN §4.2, §5.2): a JSONB bronze table per stream, monthly range partitions made
/// on demand, rows loaded by binary COPY (<see cref="BronzeWriter"/>). <see cref="CommitMode.ReplaceByUnitKey"/>: a unit's
/// transaction deletes the rows an earlier landing of the same key left (a crash after this commit but before the state's,
/// a retry, <c>--refresh</c>, a retired unit), copies the new ones and records the unit in <see cref="BronzeUnits"/>; a
/// record is in the table once whatever happened. Tables are created at run start when missing and checked when they
/// exist — never altered.
/// </summary>
internal sealed class PostgresDestination : IDestination
{
    private readonly PostgresDestinationSpec _spec;
    private readonly string _pipeline;
    private readonly TimeProvider _time;
    private readonly NpgsqlDataSource _dataSource;
    private readonly Dictionary<string, BronzeTable> _tables = new(StringComparer.Ordinal);

    public PostgresDestination(PostgresDestinationSpec spec, PipelineSpec pipeline, TimeProvider time)
    {
        _spec = spec;
        _pipeline = pipeline.Name;
        _time = time;
        Name = spec.Name;
        foreach (var source in pipeline.Sources)
        {
            foreach (var stream in source.Streams)
            {
                var name = BronzeTable.NameFor(spec.Table, pipeline.Name, source.Name, stream, spec.Name);
                _tables[stream] = new BronzeTable(spec.Schema, name, spec.Partition);
                PrimaryKeys[stream] = source.PrimaryKey(stream);
            }
        }
        var twice = _tables.GroupBy(t => t.Value.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (twice is not null)
            throw new ConfigException($"destination {spec.Name}: streams {string.Join(" and ", twice.Select(t => t.Key))} would share the table {spec.Schema}.{twice.Key}: put {{stream}} in table:");
        _dataSource = new NpgsqlDataSourceBuilder(spec.Connection) { Name = $"ingot-{spec.Name}" }.Build();
    }

    public string Name { get; }

    public CommitMode Mode => CommitMode.ReplaceByUnitKey;

    internal string Pipeline => _pipeline;

    internal string Schema => _spec.Schema;

    internal string Environment => _spec.Environment;

    internal TimeProvider Time => _time;

    internal NpgsqlDataSource DataSource => _dataSource;

    internal Dictionary<string, IReadOnlyList<string>> PrimaryKeys { get; } = new(StringComparer.Ordinal);

    /// <summary>The server and database, without the password, for messages.</summary>
    internal string Server
    {
        get
        {
            var b = new NpgsqlConnectionStringBuilder(_spec.Connection);
            return $"postgres://{b.Host}{(b.Port == NpgsqlConnection.DefaultPort ? "" : $":{b.Port}")}/{b.Database ?? b.Username}";
        }
    }

    public string Where(string pipeline) => $"{Server} {_spec.Schema}.{_spec.Table.Replace("{pipeline}", pipeline, StringComparison.Ordinal)}";

    internal BronzeTable TableFor(string stream) =>
        _tables.GetValueOrDefault(stream) ?? throw new InvalidOperationException($"destination {Name}: stream {stream} is not a stream of pipeline {_pipeline}");

    /// <summary>Opens a connection; a refused login or an unreachable server is a clear one-line error (never with the password).</summary>
    internal async Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException e)
        {
            throw new ConfigException(Redact.Message($"destination {Name}: cannot connect to {Server} as {new NpgsqlConnectionStringBuilder(_spec.Connection).Username}: {e.MessageText} (SQLSTATE {e.SqlState})"));
        }
        catch (NpgsqlException e)
        {
            var reason = e.InnerException is { } inner && inner.Message != e.Message ? $"{e.Message}: {inner.Message}" : e.Message;
            throw new ConfigException(Redact.Message($"destination {Name}: cannot connect to {Server}: {reason}"));
        }
    }

    /// <summary>Run start: the schema, the unit table and every stream's table made when missing (checked when present), and the partitions known.</summary>
    /// <summary>
    /// Preflight before any request: the server answers, the credentials work, and the role may create what is missing
    /// (the schema in the database, tables in the schema) — so a run that could never land sends nothing first.
    /// </summary>
    public async Task ProbeAsync(string pipeline, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var cmd = new NpgsqlCommand(
            """
            SELECT CASE WHEN to_regnamespace($1) IS NULL THEN has_database_privilege(current_database(), 'CREATE')
                        ELSE has_schema_privilege($1, 'CREATE') AND has_schema_privilege($1, 'USAGE') END
            """, connection) { Parameters = { new() { Value = _spec.Schema } } };
        if (await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not true)
            throw new InvalidOperationException($"destination {Name}: the role may not create tables in schema {_spec.Schema} of {Server}; grant CREATE on the schema (or the database) or choose another schema");
    }

    public async Task PrepareAsync(RunContext run, CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await using (var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false))
            {
                await BronzeTable.LockDdlAsync(connection, tx, $"schema {_spec.Schema}", cancellationToken).ConfigureAwait(false);
                await BronzeTable.Execute(connection, tx, $"CREATE SCHEMA IF NOT EXISTS {BronzeTable.Quote(_spec.Schema)}", cancellationToken).ConfigureAwait(false);
                await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
            }
            await using (var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false))
            {
                await BronzeUnits.EnsureAsync(connection, tx, _spec.Schema, cancellationToken).ConfigureAwait(false);
                await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
            }
            foreach (var table in _tables.Values)
            {
                await using (var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false))
                {
                    await table.EnsureAsync(connection, tx, cancellationToken).ConfigureAwait(false);
                    await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
                }
                await table.LoadPartitionsAsync(connection, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (BronzeSchemaException e)
        {
            throw new ConfigException($"destination {Name}: {e.Message}");
        }
        catch (PostgresException e)
        {
            // Most often a missing privilege (CREATE on the database or schema): say what was being made.
            throw new ConfigException(Redact.Message($"destination {Name}: cannot prepare the bronze tables in {Server} schema {_spec.Schema}: {e.MessageText} (SQLSTATE {e.SqlState})"));
        }
    }

    public async Task<IUnitWriter> BeginAsync(RunContext run, WorkUnit unit, IFileJournal journal, CancellationToken cancellationToken)
    {
        var writer = new BronzeWriter(this, run, unit, TableFor(unit.Stream));
        try
        {
            await writer.StartAsync(cancellationToken).ConfigureAwait(false);
            return writer;
        }
        catch
        {
            await writer.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// The units this pipeline holds, read from <c>ingot_units</c>; with details each counts its rows in the table (what
    /// <c>verify</c> checks against the state). Existing tables are checked here too, so a table of another shape is refused
    /// before the run starts.
    /// </summary>
    public async IAsyncEnumerable<LakeUnit> ListCommittedAsync(string pipeline, IReadOnlyCollection<string> streams, bool details, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        var wanted = new List<BronzeTable>();
        foreach (var stream in streams)
        {
            if (!_tables.TryGetValue(stream, out var table)) continue;
            try
            {
                if (await table.CheckAsync(connection, null, cancellationToken).ConfigureAwait(false)) wanted.Add(table);
            }
            catch (BronzeSchemaException e)
            {
                throw new ConfigException($"destination {Name}: {e.Message}");
            }
        }
        if (wanted.Count == 0 || !await BronzeUnits.ExistsAsync(connection, _spec.Schema, cancellationToken).ConfigureAwait(false)) yield break;
        foreach (var table in wanted)
        {
            await foreach (var u in BronzeUnits.ListAsync(connection, _spec.Schema, pipeline, table, details, cancellationToken).ConfigureAwait(false))
                yield return new LakeUnit(Name, u.Key, u.Stream, u.RunId, u.Identity, u.Bounds, u.Rows, []) { Checkpoint = u.Checkpoint };
        }
    }

    /// <summary>No files: a table's rows are replaced in its own transaction, never journaled.</summary>
    public Task DeleteAsync(string path, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task<string?> HashAsync(string path, CancellationToken cancellationToken) => Task.FromResult<string?>(null);

    public async ValueTask DisposeAsync() => await _dataSource.DisposeAsync().ConfigureAwait(false);
}
