using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Ingot.Tests.Infrastructure;

/// <summary>
/// A real, throwaway PostgreSQL server (the machine's own binaries, installed by <c>scripts/bootstrap.sh --tests</c>
/// where missing) on a free loopback port: <c>initdb</c> into a fresh temporary folder, <c>pg_ctl start</c>, and
/// <c>pg_ctl stop</c> plus removal at the end. About a second to start.
/// <para>
/// Local (socket) connections are trusted; TCP connections need a password (SCRAM), so a wrong password is a real
/// authentication failure. The superuser is <see cref="SuperUser"/> / <see cref="SuperPassword"/>; each test takes
/// its own database from <see cref="CreateDatabaseAsync"/> so tests never see each other's tables.
/// </para>
/// Use it as <c>IClassFixture&lt;PostgresFixture&gt;</c> (not an assembly fixture, for the reason given on
/// <see cref="S3rverFixture"/>). When the binaries are missing the fixture throws: the tests fail, never skip.
/// </summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    public const string SuperUser = "postgres";
    public const string SuperPassword = "ingot-test-pw";

    private string? _root;
    private string? _bin;
    private int _databases;

    public int Port { get; private set; }

    /// <summary>The cluster's data folder and log (for tests that read the server log).</summary>
    public string DataDirectory => Path.Combine(_root!, "data");

    /// <summary>A connection string to <paramref name="database"/> over TCP with the superuser's password.</summary>
    public string ConnectionString(string database = "postgres", string? user = null, string? password = null) =>
        new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = Port,
            Database = database,
            Username = user ?? SuperUser,
            Password = password ?? SuperPassword,
            Pooling = false,
        }.ConnectionString;

    /// <summary>A fresh, empty database for one test; returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string prefix = "t")
    {
        var name = $"{prefix}_{Interlocked.Increment(ref _databases)}_{Guid.NewGuid():N}"[..Math.Min(60, prefix.Length + 34)].ToLowerInvariant();
        await using var conn = new NpgsqlConnection(ConnectionString());
        await conn.OpenAsync().ConfigureAwait(false);
        await using (var cmd = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", conn))
            await cmd.ExecuteNonQueryAsync().ConfigureAwait(false);
        return ConnectionString(name);
    }

    /// <summary>Runs SQL statements (each its own command) against <paramref name="connectionString"/>.</summary>
    public static async Task ExecuteAsync(string connectionString, params string[] statements)
    {
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync().ConfigureAwait(false);
        foreach (var sql in statements)
        {
            await using var cmd = new NpgsqlCommand(sql, conn);
            await cmd.ExecuteNonQueryAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Runs one query and returns its first column of every row as strings (null as null).</summary>
    public static async Task<List<string?>> QueryAsync(string connectionString, string sql)
    {
        var result = new List<string?>();
        await using var conn = new NpgsqlConnection(connectionString);
        await conn.OpenAsync().ConfigureAwait(false);
        await using var cmd = new NpgsqlCommand(sql, conn);
        await using var reader = await cmd.ExecuteReaderAsync().ConfigureAwait(false);
        while (await reader.ReadAsync().ConfigureAwait(false))
            result.Add(reader.IsDBNull(0) ? null : Convert.ToString(reader.GetValue(0), CultureInfo.InvariantCulture));
        return result;
    }

    public async ValueTask InitializeAsync()
    {
        _bin = FindBinaries();
        _root = Directory.CreateTempSubdirectory("ingot-pg-").FullName;
        var asRoot = Environment.UserName == "root";
        if (asRoot) Run("chown", "postgres:postgres", _root);

        var pwfile = Path.Combine(_root, "pw");
        await File.WriteAllTextAsync(pwfile, SuperPassword).ConfigureAwait(false);
        if (asRoot) Run("chown", "postgres:postgres", pwfile);
        RunPg("initdb", "-D", DataDirectory, "-U", SuperUser, "--pwfile", pwfile, "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync", "--locale=C");

        Exception? last = null;
        for (var attempt = 0; attempt < 3; attempt++)
        {
            Port = FreePort();
            try
            {
                RunPg("pg_ctl", "-D", DataDirectory, "-l", Path.Combine(_root, "server.log"), "-w", "-t", "30", "-o",
                    $"-p {Port.ToString(CultureInfo.InvariantCulture)} -k {_root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200", "start");
                return;
            }
            catch (InvalidOperationException ex)
            {
                last = ex;
            }
        }
        throw new InvalidOperationException($"PostgreSQL did not start after 3 attempts: {last?.Message}", last);
    }

    public ValueTask DisposeAsync()
    {
        if (_root is null) return ValueTask.CompletedTask;
        try { RunPg("pg_ctl", "-D", DataDirectory, "-m", "immediate", "-w", "-t", "30", "stop"); } catch (InvalidOperationException) { }
        try { Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        return ValueTask.CompletedTask;
    }

    private void RunPg(string tool, params string[] args)
    {
        var exe = Path.Combine(_bin!, tool);
        if (Environment.UserName == "root")
            Run("runuser", ["-u", "postgres", "--", exe, .. args]);
        else
            Run(exe, args);
    }

    private static void Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(60_000))
        {
            p.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} did not finish within 60 s");
        }
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {p.ExitCode}: {stderr.Result}{stdout.Result}");
    }

    /// <summary>The folder with <c>initdb</c> and <c>pg_ctl</c>: <c>INGOT_PG_BIN</c>, the newest Debian install, or PATH.</summary>
    private static string FindBinaries()
    {
        var env = Environment.GetEnvironmentVariable("INGOT_PG_BIN");
        if (!string.IsNullOrEmpty(env) && File.Exists(Path.Combine(env, "initdb"))) return env;
        const string debian = "/usr/lib/postgresql";
        if (Directory.Exists(debian))
        {
            var newest = Directory.GetDirectories(debian)
                .Select(d => (Dir: d, Version: int.TryParse(Path.GetFileName(d), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : -1))
                .Where(x => x.Version > 0 && File.Exists(Path.Combine(x.Dir, "bin", "initdb")))
                .OrderByDescending(x => x.Version)
                .FirstOrDefault();
            if (newest.Dir is not null) return Path.Combine(newest.Dir, "bin");
        }
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            if (File.Exists(Path.Combine(dir, "initdb")) && File.Exists(Path.Combine(dir, "pg_ctl"))) return dir;
        }
        throw new InvalidOperationException("PostgreSQL server binaries (initdb, pg_ctl) are not installed: run 'scripts/bootstrap.sh --tests' from the repository root, or set INGOT_PG_BIN.");
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
