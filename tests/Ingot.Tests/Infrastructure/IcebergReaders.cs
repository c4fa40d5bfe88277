using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Avro.File;
using Avro.Generic;
using Microsoft.Data.Sqlite;

namespace Ingot.Tests.Infrastructure;

/// <summary>
/// A folder served over loopback HTTP with HEAD and byte ranges (<c>Range: bytes=a-b</c>), the way icebird and hyparquet
/// read a table from an object store.
/// </summary>
internal sealed class RangeFileServer : IDisposable
{
    private readonly HttpListener _listener = new();
    private readonly string _root;
    private readonly Task _loop;

    public RangeFileServer(string root)
    {
        _root = Path.GetFullPath(root);
        for (var attempt = 0; ; attempt++)
        {
            Port = FreePort();
            _listener.Prefixes.Clear();
            _listener.Prefixes.Add($"http://127.0.0.1:{Port}/");
            try
            {
                _listener.Start();
                break;
            }
            catch (HttpListenerException) when (attempt < 3)
            {
            }
        }
        _loop = Task.Run(LoopAsync);
    }

    public int Port { get; private set; }

    private static int FreePort()
    {
        using var l = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    public string Url => $"http://127.0.0.1:{Port}";

    public int Requests;

    private async Task LoopAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return;
            }
            _ = Task.Run(() => Serve(context));
        }
    }

    private void Serve(HttpListenerContext context)
    {
        Interlocked.Increment(ref Requests);
        var response = context.Response;
        try
        {
            var relative = Uri.UnescapeDataString(context.Request.Url!.AbsolutePath.TrimStart('/'));
            var path = Path.GetFullPath(Path.Combine(_root, relative));
            if (!path.StartsWith(_root, StringComparison.Ordinal) || !File.Exists(path))
            {
                response.StatusCode = 404;
                return;
            }
            var bytes = File.ReadAllBytes(path);
            long from = 0, to = bytes.Length - 1;
            response.AddHeader("Accept-Ranges", "bytes");
            if (context.Request.Headers["Range"] is { } range && range.StartsWith("bytes=", StringComparison.Ordinal))
            {
                var parts = range["bytes=".Length..].Split('-');
                if (parts[0].Length == 0) from = Math.Max(0, bytes.Length - long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
                else
                {
                    from = long.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture);
                    if (parts.Length > 1 && parts[1].Length > 0) to = Math.Min(to, long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
                }
                response.StatusCode = 206;
                response.AddHeader("Content-Range", $"bytes {from}-{to}/{bytes.Length}");
            }
            response.ContentLength64 = to - from + 1;
            if (context.Request.HttpMethod != "HEAD") response.OutputStream.Write(bytes, (int)from, (int)(to - from + 1));
        }
        catch (Exception e) when (e is IOException or HttpListenerException)
        {
            response.StatusCode = 500;
        }
        finally
        {
            try { response.Close(); } catch (HttpListenerException) { }
        }
    }

    public void Dispose()
    {
        _listener.Stop();
        _listener.Close();
        try { _loop.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
    }
}

/// <summary>
/// Independent readers of an Iceberg table Ingot wrote: npm <c>icebird</c> over HTTP (installed by
/// <c>scripts/bootstrap.sh --tests</c>), and the table's files walked with Apache.Avro (catalog → metadata → manifest
/// list → manifests), not with Ingot's own reader.
/// </summary>
internal static class IcebergReaders
{
    private const string Script = """
        import { icebergRead } from 'icebird'
        const [tableUrl, metadataFileName, fileRoot, httpRoot] = process.argv.slice(2)
        const realFetch = globalThis.fetch
        // The table's paths are file:// URIs; the object store here is the loopback HTTP server over the same folder.
        globalThis.fetch = (url, init) => {
          let u = typeof url === 'string' ? url : url.toString()
          if (u.startsWith(fileRoot)) u = httpRoot + u.slice(fileRoot.length)
          return realFetch(u, init)
        }
        const rows = await icebergRead({ tableUrl, metadataFileName })
        for (const r of rows) console.log(JSON.stringify(r, (k, v) => typeof v === 'bigint' ? v.toString() : v))
        """;

    /// <summary>Every row icebird reads from the table's current snapshot, as JSON objects.</summary>
    public static async Task<List<JsonElement>> IcebirdAsync(string warehouse, string tableRelative, string metadataLocation)
    {
        var node = Path.Combine(S3rverFixture.FindRepoRoot(), ".tools", "node");
        if (!File.Exists(Path.Combine(node, "node_modules", "icebird", "package.json")))
            throw new InvalidOperationException($"icebird is not installed under {node}: run 'scripts/bootstrap.sh --tests' from the repository root.");
        var script = Path.Combine(node, "ingot-icebird-read.mjs");
        await File.WriteAllTextAsync(script, Script);
        using var server = new RangeFileServer(warehouse);
        var fileRoot = new Uri(Path.GetFullPath(warehouse)).AbsoluteUri.TrimEnd('/');
        var psi = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = node };
        foreach (var a in new[] { script, $"{server.Url}/{tableRelative}", metadataLocation[(metadataLocation.LastIndexOf('/') + 1)..], fileRoot, server.Url }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromMinutes(2)).Token);
        var output = await stdout;
        if (p.ExitCode != 0) throw new InvalidOperationException($"icebird failed ({p.ExitCode}): {await stderr}");
        server.Requests.ShouldBeGreaterThan(0);
        return output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
    }

    public static string? CatalogLocation(string catalogDb, string table, string ns = "bronze", string catalog = "ingot")
    {
        using var c = new SqliteConnection($"Data Source={catalogDb};Mode=ReadOnly;Pooling=False");
        c.Open();
        using var cmd = c.CreateCommand();
        cmd.CommandText = "SELECT metadata_location FROM iceberg_tables WHERE catalog_name = $c AND table_namespace = $n AND table_name = $t";
        cmd.Parameters.AddWithValue("$c", catalog);
        cmd.Parameters.AddWithValue("$n", ns);
        cmd.Parameters.AddWithValue("$t", table);
        return cmd.ExecuteScalar() as string;
    }

    public static string LocalPath(string uri) => new Uri(uri).LocalPath;

    public static JsonObject Metadata(string metadataLocation) => (JsonObject)JsonNode.Parse(File.ReadAllText(LocalPath(metadataLocation)))!;

    /// <summary>An Avro file read generically: its records, its schema's JSON and its key-value metadata.</summary>
    public static (List<GenericRecord> Records, JsonObject Schema, Dictionary<string, string> Meta) Avro(string uri)
    {
        using var reader = DataFileReader<GenericRecord>.OpenReader(LocalPath(uri));
        var meta = reader.GetMetaKeys().ToDictionary(k => k, reader.GetMetaString);
        var records = new List<GenericRecord>();
        while (reader.HasNext()) records.Add(reader.Next());
        return (records, (JsonObject)JsonNode.Parse(meta["avro.schema"])!, meta);
    }

    /// <summary>The data files the current snapshot holds live (ADDED or EXISTING entries of its manifests), with the entries.</summary>
    public static List<(string Path, GenericRecord Entry)> LiveFiles(JsonObject metadata)
    {
        var current = metadata["current-snapshot-id"]!.GetValue<long>();
        var snapshot = metadata["snapshots"]!.AsArray().First(s => s!["snapshot-id"]!.GetValue<long>() == current)!;
        var live = new List<(string, GenericRecord)>();
        foreach (var m in Avro(snapshot["manifest-list"]!.GetValue<string>()).Records)
        {
            foreach (var e in Avro((string)m["manifest_path"]).Records)
            {
                if ((int)e["status"] == 2) continue;
                live.Add((LocalPath((string)((GenericRecord)e["data_file"])["file_path"]), e));
            }
        }
        return live;
    }
}
