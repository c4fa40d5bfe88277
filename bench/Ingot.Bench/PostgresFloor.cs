using System.Buffers.Text;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using Npgsql;
using Ingot.Postgres.Source;
using Ingot.Records;
using ParquetSharp;

namespace Ingot.Bench;

/// <summary>
/// The least a .NET program on Ingot's libraries (Npgsql, ParquetSharp) does to copy the bench's orders into one Parquet
/// file: no hash, no metadata columns, no partitions, no checkpoint, no state, one query. Values are typed as Ingot lands
/// them (integers as BIGINT, the numeric as DOUBLE, timestamps as their ISO text, text as UTF-8), read straight into a
/// pinned arena (no object per value) and written through the low-level column writers, zstd level 1, no dictionary for
/// the unique columns; reading and writing overlap (a channel of 10,000-row batches), so both cores work. It is the floor
/// of the engine the goal compares with <c>psql \copy</c> + DuckDB: whatever Ingot adds comes on top of this.
/// </summary>
internal static class PostgresFloor
{
    public const string ChildCommand = "postgres-floor-child";

    private const int BatchRows = 10_000;

    /// <summary>Runs the copy in this process: <c>postgres-floor-child &lt;connection string&gt; &lt;file.parquet&gt;</c>.</summary>
    public static async Task<int> RunChildAsync(string[] args)
    {
        var (cs, path) = (args[0], args[1]);
        // "bronze": also what every bronze row carries — the MD5 of its canonical JSON and the metadata columns.
        var bronze = args.Length > 2 && args[2] == "bronze";
        var clock = Stopwatch.StartNew();
        var batches = Channel.CreateBounded<Batch>(2);
        var read = Task.Run(() => ReadAsync(cs, batches.Writer));
        long rows = 0;
        Column[] columns =
        [
            new Column<long>("order_id"), new Column<long>("customer_id"), new Column<string>("status"), new Column<double>("amount"),
            new Column<string>("currency"), new Column<string>("order_date"), new Column<string>("updated_at"), new Column<string>("note"),
        ];
        if (bronze)
        {
            columns =
            [
                .. columns, new Column<string>("_ingestion_id"), new Column<DateTime>("_ingested_at", LogicalType.Timestamp(true, TimeUnit.Micros)),
                new Column<string>("_source_system"), new Column<string>("_stream"), new Column<string>("_chunk_key"), new Column<string>("_record_hash"),
                new Column<DateTime>("_event_ts", LogicalType.Timestamp(true, TimeUnit.Micros)),
            ];
        }
        var hasher = bronze ? new Hasher() : null;
        var ingestionId = Guid.NewGuid().ToString();
        var ingestedAt = (DateTime.UtcNow.Ticks - DateTime.UnixEpoch.Ticks) / 10;
        using (var builder = new WriterPropertiesBuilder())
        {
            builder.Compression(Compression.Zstd).CompressionLevel(1).MemoryPool(MemoryPool.SystemMemoryPool());
            foreach (var unique in new[] { "order_id", "order_date", "updated_at", "_record_hash", "_event_ts" }) builder.DisableDictionary(unique);
            using var properties = builder.Build();
            using var file = new ParquetFileWriter(path, columns, properties);
            await foreach (var batch in batches.Reader.ReadAllAsync())
            {
                using var group = file.AppendRowGroup();
                Write(group, batch);
                if (hasher is not null)
                {
                    hasher.Hash(batch);
                    WriteMetadata(group, batch, hasher, ingestionId, ingestedAt);
                }
                rows += batch.Count;
            }
            file.Close();
        }
        await read;
        Console.WriteLine(FormattableString.Invariant($"floor: {rows} rows in {clock.Elapsed.TotalSeconds:F2} s"));
        return 0;
    }

    private static async Task ReadAsync(string cs, ChannelWriter<Batch> writer)
    {
        try
        {
            await using var conn = new NpgsqlConnection(cs);
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand(
                "SELECT order_id, customer_id, status, amount::text, currency, order_date, updated_at, note FROM orders ORDER BY updated_at, order_id", conn) { CommandTimeout = 0 };
            await using var reader = await cmd.ExecuteReaderAsync(System.Data.CommandBehavior.SequentialAccess);
            var batch = new Batch();
            while (await reader.ReadAsync())
            {
                var i = batch.Count++;
                batch.Longs[0][i] = reader.GetInt64(0);
                batch.Longs[1][i] = reader.GetInt64(1);
                batch.Text(0, i, reader, 2);
                batch.Amount[i] = Utf8Parser.TryParse(batch.Text(5, i, reader, 3), out double amount, out _) ? amount : double.NaN;
                batch.Text(1, i, reader, 4);
                var orderDate = reader.GetFieldValue<DateTime>(5);
                batch.Timestamp(2, i, orderDate);
                batch.EventTs[i] = (orderDate.Ticks - DateTime.UnixEpoch.Ticks) / 10;
                batch.Timestamp(3, i, reader.GetFieldValue<DateTime>(6));
                if (reader.IsDBNull(7)) batch.Null(4, i);
                else batch.Text(4, i, reader, 7);
                if (batch.Count == BatchRows)
                {
                    await writer.WriteAsync(batch);
                    batch = new Batch();
                }
            }
            if (batch.Count > 0) await writer.WriteAsync(batch);
            writer.Complete();
        }
        catch (Exception e)
        {
            writer.Complete(e);
            throw;
        }
    }

    private static void Write(RowGroupWriter group, Batch batch)
    {
        var n = batch.Count;
        var defs = new short[n];
        Array.Fill(defs, (short)1);
        foreach (var c in new[] { 0, 1 })
        {
            using var column = (ColumnWriter<long>)group.NextColumn();
            column.WriteBatch(n, defs, default, batch.Longs[c].AsSpan(0, n));
        }
        WriteText(group, batch, 0, defs);
        using (var column = (ColumnWriter<double>)group.NextColumn()) column.WriteBatch(n, defs, default, batch.Amount.AsSpan(0, n));
        foreach (var t in new[] { 1, 2, 3, 4 }) WriteText(group, batch, t, defs);
    }

    private static void WriteMetadata(RowGroupWriter group, Batch batch, Hasher hasher, string ingestionId, long ingestedAt)
    {
        var n = batch.Count;
        var defs = new short[n];
        Array.Fill(defs, (short)1);
        Constant(group, ingestionId, defs);
        using (var column = (ColumnWriter<long>)group.NextColumn())
        {
            var values = new long[n];
            Array.Fill(values, ingestedAt);
            column.WriteBatch(n, defs, default, values);
        }
        foreach (var value in new[] { "postgres", "orders", "orders-00000" }) Constant(group, value, defs);
        using (var column = (ColumnWriter<ByteArray>)group.NextColumn()) column.WriteBatch(n, defs, default, hasher.Hashes(n));
        using (var column = (ColumnWriter<long>)group.NextColumn()) column.WriteBatch(n, defs, default, batch.EventTs.AsSpan(0, n));
    }

    private static void Constant(RowGroupWriter group, string value, short[] defs)
    {
        var bytes = GC.AllocateArray<byte>(System.Text.Encoding.UTF8.GetByteCount(value), pinned: true);
        System.Text.Encoding.UTF8.GetBytes(value, bytes);
        var values = new ByteArray[defs.Length];
        Array.Fill(values, new ByteArray(Marshal.UnsafeAddrOfPinnedArrayElement(bytes, 0), bytes.Length));
        using var column = (ColumnWriter<ByteArray>)group.NextColumn();
        column.WriteBatch(defs.Length, defs, default, values);
        // The values are raw pointers into the array: without this the GC may free it (unreachable once the pointers
        // are taken) while ParquetSharp still reads it — a run of the bench died of SIGSEGV in this floor.
        GC.KeepAlive(bytes);
    }

    /// <summary>
    /// Each row's canonical JSON (keys sorted, no whitespace; values as Ingot writes them) and its MD5 as lowercase hex,
    /// eight rows per call of Ingot's vectorised MD5.
    /// </summary>
    private sealed class Hasher
    {
        private static readonly byte[][] Keys = [.. new[] { "amount", "currency", "customer_id", "note", "order_date", "order_id", "status", "updated_at" }
            .Select((k, i) => System.Text.Encoding.UTF8.GetBytes((i == 0 ? "{\"" : ",\"") + k + "\":"))];
        // The bench's rows are under 300 bytes of canonical JSON; a longer one fails the floor loudly (Span.CopyTo), not silently.
        private readonly byte[] _canonical = new byte[BatchRows * 512];
        private readonly int[] _starts = new int[BatchRows];
        private readonly int[] _lengths = new int[BatchRows];
        private readonly byte[] _hex = GC.AllocateUninitializedArray<byte>(BatchRows * 32, pinned: true);
        private readonly ByteArray[] _values = new ByteArray[BatchRows];

        public void Hash(Batch b)
        {
            var at = 0;
            for (var i = 0; i < b.Count; i++)
            {
                _starts[i] = at;
                Append(ref at, Keys[0]);
                Append(ref at, b.TextOf(5, i));
                Append(ref at, Keys[1]);
                String(ref at, b.TextOf(1, i));
                Append(ref at, Keys[2]);
                Number(ref at, b.Longs[1][i]);
                Append(ref at, Keys[3]);
                if (b.Length[4][i] < 0) Append(ref at, "null"u8);
                else String(ref at, b.TextOf(4, i));
                Append(ref at, Keys[4]);
                String(ref at, b.TextOf(2, i));
                Append(ref at, Keys[5]);
                Number(ref at, b.Longs[0][i]);
                Append(ref at, Keys[6]);
                String(ref at, b.TextOf(0, i));
                Append(ref at, Keys[7]);
                String(ref at, b.TextOf(3, i));
                Append(ref at, "}"u8);
                _lengths[i] = at - _starts[i];
            }
            Span<byte> digests = stackalloc byte[8 * Md5.HashSize];
            var row = 0;
            for (; row + 8 <= b.Count; row += 8)
            {
                Md5.HashData8(_canonical, _starts.AsSpan(row, 8), _lengths.AsSpan(row, 8), digests);
                for (var l = 0; l < 8; l++) Md5.ToHexUtf8(digests.Slice(l * Md5.HashSize, Md5.HashSize), _hex.AsSpan((row + l) * 32, 32));
            }
            for (; row < b.Count; row++) Md5.HashHexUtf8(_canonical.AsSpan(_starts[row], _lengths[row]), _hex.AsSpan(row * 32, 32));
        }

        public ReadOnlySpan<ByteArray> Hashes(int n)
        {
            for (var i = 0; i < n; i++) _values[i] = new ByteArray(Marshal.UnsafeAddrOfPinnedArrayElement(_hex, i * 32), 32);
            return _values.AsSpan(0, n);
        }

        private void Append(ref int at, ReadOnlySpan<byte> bytes)
        {
            bytes.CopyTo(_canonical.AsSpan(at));
            at += bytes.Length;
        }

        private void Number(ref int at, long value)
        {
            Utf8Formatter.TryFormat(value, _canonical.AsSpan(at), out var written);
            at += written;
        }

        /// <summary>A JSON string: printable ASCII as it is, anything else as the canonical writer escapes it.</summary>
        private void String(ref int at, ReadOnlySpan<byte> value)
        {
            _canonical[at++] = (byte)'"';
            if (value.IndexOfAnyExceptInRange((byte)0x20, (byte)0x7E) < 0 && value.IndexOfAny((byte)'"', (byte)'\\') < 0)
                Append(ref at, value);
            else
                Append(ref at, System.Text.Json.JsonEncodedText.Encode(value, System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping).EncodedUtf8Bytes);
            _canonical[at++] = (byte)'"';
        }
    }

    private static void WriteText(RowGroupWriter group, Batch batch, int text, short[] allPresent)
    {
        var n = batch.Count;
        var defs = batch.Nulls[text] == 0 ? allPresent : batch.Defs[text];
        var values = batch.Values[text];
        var k = n - batch.Nulls[text];
        using var column = (ColumnWriter<ByteArray>)group.NextColumn();
        column.WriteBatch(n, defs.AsSpan(0, n), default, values.AsSpan(0, k));
    }

    /// <summary>10,000 rows: longs and doubles in arrays, every text value's bytes in one pinned arena per column.</summary>
    private sealed class Batch
    {
        public int Count;
        public readonly long[][] Longs = [new long[BatchRows], new long[BatchRows]];
        public readonly double[] Amount = new double[BatchRows];
        // Text columns: status, currency, order_date, updated_at, note; [5] holds the numeric's text (for the canonical JSON, no column).
        private readonly byte[][] _arena = [.. Enumerable.Range(0, 6).Select(_ => GC.AllocateUninitializedArray<byte>(BatchRows * 32, pinned: true))];
        private readonly int[] _used = new int[6];
        public readonly ByteArray[][] Values = [.. Enumerable.Range(0, 5).Select(_ => new ByteArray[BatchRows])];
        public readonly short[][] Defs = [.. Enumerable.Range(0, 5).Select(_ => new short[BatchRows])];
        public readonly int[] Nulls = new int[5];
        public readonly int[][] Start = [.. Enumerable.Range(0, 6).Select(_ => new int[BatchRows])];
        public readonly int[][] Length = [.. Enumerable.Range(0, 6).Select(_ => new int[BatchRows])];
        public readonly long[] EventTs = new long[BatchRows];

        public ReadOnlySpan<byte> TextOf(int text, int row) => _arena[text].AsSpan(Start[text][row], Length[text][row]);

        public ReadOnlySpan<byte> Text(int text, int row, NpgsqlDataReader reader, int field)
        {
            var length = (int)reader.GetBytes(field, 0, null, 0, 0);
            var at = Reserve(text, length);
            reader.GetBytes(field, 0, _arena[text], at, length);
            return Add(text, row, at, length);
        }

        public void Timestamp(int text, int row, DateTime t)
        {
            // Digit by digit, as Ingot writes them (DateTime's custom format costs several times more).
            var at = Reserve(text, 32);
            Add(text, row, at, RowReader.FormatTimestamp(_arena[text].AsSpan(at), t, "+00:00"));
        }

        public void Null(int text, int row)
        {
            Length[text][row] = -1;
            Defs[text][row] = 0;
            Nulls[text]++;
        }

        private ReadOnlySpan<byte> Add(int text, int row, int at, int length)
        {
            _used[text] = at + length;
            if (text < 5)
            {
                Defs[text][row] = 1;
                Values[text][row - Nulls[text]] = new ByteArray(Marshal.UnsafeAddrOfPinnedArrayElement(_arena[text], at), length);
            }
            Start[text][row] = at;
            Length[text][row] = length;
            return _arena[text].AsSpan(at, length);
        }

        private int Reserve(int text, int length)
        {
            // Values point into the arena: it never moves, so a batch whose text outgrows it is a bench bug, not data.
            if (_used[text] + length > _arena[text].Length) throw new InvalidOperationException("the floor's text arena is too small for this batch");
            return _used[text];
        }
    }
}
