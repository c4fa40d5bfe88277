using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Apache.Arrow;
using Ingot.DuckDb.Native;
using Ingot.Records;

namespace Ingot.Bench;

/// <summary>
/// The two hand-written hot pieces against the library code they replace, on the Parquet bench's records, several runs,
/// min – median – max: the managed MD5 (one record at a time and eight per AVX2 vector) against the platform's
/// <see cref="MD5.HashData(ReadOnlySpan{byte}, Span{byte})"/> per record, and a string column built from UTF-8 into
/// the staging batch (<see cref="ArrowBatch"/>) against Apache.Arrow's <see cref="StringArray.Builder"/> fed the same
/// values as the .NET strings a record's fields become.
/// </summary>
internal static class MicroBench
{
    public static int Run(string[] args)
    {
        var rows = (int)ParquetBench.LongOption(args, "--rows", 1_000_000);
        var repeats = (int)ParquetBench.LongOption(args, "--repeats", 5);
        var file = Path.Combine(Path.GetTempPath(), $"ingot-micro-{Guid.NewGuid():N}.ndjson");
        ParquetBench.Generate(file, rows);
        var lines = File.ReadAllLines(file).Select(Encoding.UTF8.GetBytes).ToArray();
        File.Delete(file);
        var buffer = lines.SelectMany(l => l).ToArray();
        var starts = new int[rows];
        var lengths = new int[rows];
        for (int i = 0, at = 0; i < rows; at += lines[i].Length, i++) (starts[i], lengths[i]) = (at, lines[i].Length);
        Console.WriteLine($"{rows:N0} records of {buffer.Length / (double)rows:N0} bytes (the Parquet bench's NOAA rows), {repeats} runs each; ns per record, min – median – max");

        var digest = new byte[16 * 8];
        var bcl = Time(repeats, () =>
        {
            for (var i = 0; i < rows; i++) MD5.HashData(buffer.AsSpan(starts[i], lengths[i]), digest);
        });
        var scalar = Time(repeats, () =>
        {
            for (var i = 0; i < rows; i++) Md5.HashData(buffer.AsSpan(starts[i], lengths[i]), digest);
        });
        var lanes = Time(repeats, () =>
        {
            for (var i = 0; i + 8 <= rows; i += 8) Md5.HashData8(buffer, starts.AsSpan(i, 8), lengths.AsSpan(i, 8), digest);
        });
        // The three agree (checked, not assumed).
        for (var i = 0; i + 8 <= Math.Min(rows, 800); i += 8)
        {
            Md5.HashData8(buffer, starts.AsSpan(i, 8), lengths.AsSpan(i, 8), digest);
            for (var l = 0; l < 8; l++)
            {
                if (!MD5.HashData(buffer.AsSpan(starts[i + l], lengths[i + l])).AsSpan().SequenceEqual(digest.AsSpan(l * 16, 16)))
                    throw new InvalidOperationException($"MD5 lanes disagree with the platform on record {i + l}");
            }
        }
        Print("MD5, platform (OpenSSL via MD5.HashData)", bcl, rows, null);
        Print("MD5, managed, one record at a time", scalar, rows, bcl);
        Print("MD5, managed, eight records per vector", lanes, rows, bcl);

        // A string column of the station ids, as the staging batch gets it (UTF-8 slices of the record) and as
        // Apache.Arrow's builder gets it (the field's .NET string, which is what a builder API is fed).
        var stations = lines.Select(l => l.AsMemory(12, 11)).ToArray();
        var strings = stations.Select(s => Encoding.UTF8.GetString(s.Span)).ToArray();
        var arrow = Time(repeats, () =>
        {
            var builder = new StringArray.Builder();
            foreach (var s in strings) builder.Append(s);
            using var array = builder.Build();
        });
        var arrowBytes = Time(repeats, () =>
        {
            var builder = new StringArray.Builder();
            foreach (var s in stations) builder.Append(s.Span);
            using var array = builder.Build();
        });
        var batch = Time(repeats, () =>
        {
            using var b = new ArrowBatch(rows, 1);
            var column = b.AddUtf8("station", rows * 11L);
            foreach (var s in stations) column.Append(s.Span);
        });
        Print("string column, Apache.Arrow builder from .NET strings", arrow, rows, null);
        Print("string column, Apache.Arrow builder from UTF-8", arrowBytes, rows, arrow);
        Print("string column, staging batch from UTF-8", batch, rows, arrow);
        return 0;
    }

    private static List<double> Time(int repeats, Action work)
    {
        work(); // warm: JIT and caches, not counted
        var seconds = new List<double>();
        for (var r = 0; r < repeats; r++)
        {
            var sw = Stopwatch.StartNew();
            work();
            seconds.Add(sw.Elapsed.TotalSeconds);
        }
        return seconds;
    }

    private static void Print(string what, List<double> seconds, int rows, List<double>? anchor)
    {
        var ns = seconds.Select(s => s * 1e9 / rows).Order().ToList();
        var line = string.Create(CultureInfo.InvariantCulture, $"  {what,-58} {ns[0],7:0.0} – {Stats.Median(ns),7:0.0} – {ns[^1],7:0.0} ns");
        if (anchor is not null) line += string.Create(CultureInfo.InvariantCulture, $"   ({Stats.Median(anchor) / Stats.Median(seconds):0.0}x faster)");
        Console.WriteLine(line);
    }
}
