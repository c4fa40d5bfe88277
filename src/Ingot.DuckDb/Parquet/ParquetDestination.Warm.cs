using Ingot.Destinations;
using Ingot.Records;
using Ingot.Sources;

namespace Ingot.DuckDb.Parquet;

internal sealed partial class ParquetDestination
{
    private Task? _warm;
    private readonly CancellationTokenSource _warmStop = new();

    /// <summary>
    /// A run's first unit pays for compiling the landing path (row reading, hashing, the Parquet writer, the native
    /// library's load, the unit record): measured on the Parquet bench, the first two units took ~400 ms where later ones
    /// take ~18 ms. <see cref="PrepareAsync"/> therefore lands two small synthetic units — JSON records with every value
    /// kind, and typed batch rows as a database source makes them — in a scratch folder outside the lake, in the background, while the source opens its connection and fetches the first page.
    /// It never touches the lake or the state, and a failure of it only means the first unit compiles its own code.
    /// Measured (1 M rows, 4 runs each): 1.22–1.29 s without it, 1.20–1.24 s with it; more where the first page is slower.
    /// </summary>
    private void StartWarming()
    {
        if (_warm is not null || _isWarmUp) return;
        _warm = Task.Run(() => WarmAsync(_warmStop.Token));
    }

    /// <summary>Set on the destination that does the warm-up landing, so it does not warm up in turn.</summary>
    private bool _isWarmUp;

    private async Task WarmAsync(CancellationToken cancellationToken)
    {
        var dir = Directory.CreateTempSubdirectory("ingot-warm-").FullName;
        try
        {
            var spec = new ParquetDestinationSpec(dir, new Storage.StoreOptions(), _partitionBy, _compression, _targetFileBytes);
            await using var destination = new ParquetDestination(spec, new Storage.LocalBlobStore(dir), "warm") { _isWarmUp = true };
            var run = new RunContext(Guid.NewGuid(), "warm", DateTimeOffset.UnixEpoch);
            var unit = new WorkUnit("warm-0", "warm", "warm", "warm",
                new TimeWindowBounds(DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch.AddDays(1), DateTimeOffset.UnixEpoch.AddDays(1), []), UnitIdentity.Of(("warm", "1")), LoadType.Full);
            var records = new Record[64];
            for (var i = 0; i < records.Length; i++)
            {
                var json = (i % 4) switch
                {
                    0 => $$$"""{"s":"a{{{i}}}","n":{{{i}}},"d":{{{i}}}.5,"b":true,"l":["x","y"],"f":[1.5],"o":{"k":1}}""",
                    1 => $$$"""{"n":{{{i}}},"s":"esc\"{{{i}}}","d":null,"b":false,"l":[],"f":[null,2]}""",
                    2 => $$$"""{"s":"ü{{{i}}}","n":-{{{i}}},"o":null}""",
                    _ => $$$"""{"s":null,"n":{{{i}}},"d":1e3,"l":null}""",
                };
                records[i] = Record.FromUtf8(System.Text.Encoding.UTF8.GetBytes(json), i % 3 == 0 ? null : DateTimeOffset.UnixEpoch.AddHours(i));
            }
            await LandAsync(destination, run, unit, records, cancellationToken).ConfigureAwait(false);

            // And the typed path a database source's pages take (RowBatch rows), one of each value kind it writes.
            var batch = new RowBatch([new("i", BatchKind.Integer), new("b", BatchKind.Boolean), new("t", BatchKind.Text), new("d", BatchKind.Number)], 64);
            for (var i = 0; i < 64; i++)
            {
                batch.Integer(0, i);
                if (i % 3 == 0) batch.Null(1); else batch.Boolean(1, i % 2 == 0);
                batch.Text(2, i % 4 == 0 ? "esc\"ü"u8 : "plain"u8);
                batch.Text(3, i % 5 == 0 ? "NaN"u8 : "12.50"u8);
                batch.EndRow();
            }
            var rows = new Record[batch.Count];
            for (var i = 0; i < rows.Length; i++) rows[i] = Record.FromBatch(batch, i, DateTimeOffset.UnixEpoch.AddHours(i));
            await LandAsync(destination, run, unit with { Key = "warm-1" }, rows, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static async Task LandAsync(ParquetDestination destination, RunContext run, WorkUnit unit, Record[] records, CancellationToken cancellationToken)
    {
        await using var writer = await destination.BeginAsync(run, unit, NullJournal.Instance, cancellationToken).ConfigureAwait(false);
        await writer.WriteAsync(new FetchedPage(unit.Key, ReadOnlyMemory<byte>.Empty, "warm", 200, DateTimeOffset.UnixEpoch, records), cancellationToken).ConfigureAwait(false);
        await writer.CompleteAsync(new UnitTotals(records.Length, 0, 1, 0), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops a warm-up still running (it checks between its steps) and waits for it; its outcome does not matter.</summary>
    private async Task StopWarmingAsync()
    {
        if (_warm is null) return;
        await _warmStop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _warm.ConfigureAwait(false);
        }
#pragma warning disable CA1031 // the warm-up is an optimisation: whatever it met, the real landing reports for itself
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    private sealed class NullJournal : IFileJournal
    {
        public static readonly NullJournal Instance = new();
        public Task WillWriteAsync(string destination, IReadOnlyList<string> paths, CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
