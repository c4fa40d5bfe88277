using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Ingot.Storage;

namespace Ingot.Tests.Infrastructure;

/// <summary>
/// A real S3-protocol server (s3rver 3.7, from <c>scripts/bootstrap.sh --tests</c>) on a free loopback port,
/// with a fresh data folder and the bucket <see cref="Bucket"/> created at start.
/// <para>
/// Use it as <c>IClassFixture&lt;S3rverFixture&gt;</c>: one server per test class (about 0.5 s to start),
/// isolated data. It is deliberately not registered with <c>[assembly: AssemblyFixture]</c>: xUnit v3 builds
/// every assembly fixture when the assembly starts, so every run — even one filtered to DuckDB tests — would
/// then need node and s3rver. Classes that want to share one server can use a collection fixture instead.
/// Tests give each case its own key prefix (<see cref="NewRoot"/>) so they never see each other's objects.
/// </para>
/// When s3rver or node is missing the fixture throws, so the tests fail (never skip).
/// </summary>
public sealed class S3rverFixture : IAsyncLifetime
{
    public const string ScriptRelativePath = ".tools/node/node_modules/s3rver/bin/s3rver.js";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);

    private Process? _process;
    private readonly StringBuilder _stderr = new();
    private string? _dataDir;

    public string Bucket { get; } = "bronze";
    public string AccessKey => "S3RVER";
    public string SecretKey => "S3RVER";
    public int Port { get; private set; }
    public string Endpoint => $"http://127.0.0.1:{Port}";

    /// <summary>Store settings for this server (explicit credentials, path style).</summary>
    public StoreOptions StoreOptions() => new(Endpoint: Endpoint, Region: "us-east-1", PathStyle: true, AccessKey: AccessKey, SecretKey: SecretKey);

    /// <summary>A fresh root <c>s3://bronze/&lt;unique&gt;</c> for one test.</summary>
    public string NewRoot(string? name = null) => $"s3://{Bucket}/{name ?? "t"}-{Guid.NewGuid():N}";

    public async ValueTask InitializeAsync()
    {
        var repo = FindRepoRoot();
        var script = Path.Combine(repo, ScriptRelativePath.Replace('/', Path.DirectorySeparatorChar));
        if (!File.Exists(script))
            throw new InvalidOperationException($"s3rver is not installed ({script} is missing): run 'scripts/bootstrap.sh --tests' from the repository root.");

        _dataDir = Directory.CreateTempSubdirectory("ingot-s3rver-").FullName;
        Exception? last = null;
        // A free port can be taken between probing and binding: try a few.
        for (var attempt = 0; attempt < 3; attempt++)
        {
            Port = FreePort();
            try
            {
                await StartAsync(script).ConfigureAwait(false);
                return;
            }
            catch (InvalidOperationException ex) when (_process is { HasExited: true })
            {
                last = ex;
                _process.Dispose();
                _process = null;
            }
        }
        throw new InvalidOperationException($"s3rver did not start after 3 attempts: {last?.Message}", last);
    }

    public ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            try
            {
                if (!_process.HasExited)
                {
                    _process.Kill(entireProcessTree: true);
                    _process.WaitForExit(5000);
                }
            }
            catch (InvalidOperationException) { }
            _process.Dispose();
            _process = null;
        }
        if (_dataDir is not null)
        {
            try { Directory.Delete(_dataDir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
        return ValueTask.CompletedTask;
    }

    private async Task StartAsync(string script)
    {
        var psi = new ProcessStartInfo("node")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // s3rver 3.7 encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 (Node >= 17) only
        // offers through the legacy provider: without it every second page answers 500 InternalError.
        foreach (var arg in new[] { "--openssl-legacy-provider", script, "-d", _dataDir!, "-a", "127.0.0.1", "-p", Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                     "--configure-bucket", Bucket, "--no-vhost-buckets", "--silent" })
        {
            psi.ArgumentList.Add(arg);
        }
        try
        {
            _process = Process.Start(psi) ?? throw new InvalidOperationException("could not start node");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("node is not on PATH: s3rver needs Node.js (see scripts/bootstrap.sh --tests).", ex);
        }
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_stderr) _stderr.AppendLine(e.Data); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        // s3rver creates the configured buckets before it listens: an open port means ready.
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < StartTimeout)
        {
            if (_process.HasExited)
            {
                string err;
                lock (_stderr) err = _stderr.ToString();
                throw new InvalidOperationException($"s3rver exited with code {_process.ExitCode}: {err}");
            }
            using var probe = new TcpClient();
            try
            {
                await probe.ConnectAsync(IPAddress.Loopback, Port).ConfigureAwait(false);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(50).ConfigureAwait(false);
            }
        }
        try { _process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        throw new TimeoutException($"s3rver did not listen on 127.0.0.1:{Port} within {StartTimeout.TotalSeconds} s");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Walks up from the test binaries to the folder holding <c>Ingot.slnx</c>.</summary>
    public static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Ingot.slnx"))) return dir.FullName;
        }
        throw new InvalidOperationException($"Ingot.slnx not found above {AppContext.BaseDirectory}");
    }
}
