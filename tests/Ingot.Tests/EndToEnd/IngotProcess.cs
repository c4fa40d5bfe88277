using System.Diagnostics;
using System.Text;

namespace Ingot.Tests.EndToEnd;

/// <summary>Runs the built <c>ingot</c> executable (copied next to the tests) as a real process.</summary>
internal sealed class IngotProcess
{
    public static string Dll => Path.Combine(AppContext.BaseDirectory, "ingot.dll");

    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public IEnumerable<System.Text.Json.JsonElement> Events =>
            Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Where(l => l.TrimStart().StartsWith('{'))
                .Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement.Clone());

        public System.Text.Json.JsonElement Summary => Events.Last(e => e.GetProperty("msg").GetString() == "Run complete");
    }

    public static ProcessStartInfo StartInfo(string workDir, IReadOnlyDictionary<string, string>? env, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["INGOT_HOME"] = Path.Combine(workDir, ".ingot");
        psi.Environment["INGOT_LOG_FORMAT"] = "json";
        psi.Environment.Remove("INGOT_STATE");
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        if (env is not null) foreach (var (k, v) in env) psi.Environment[k] = v;
        return psi;
    }

    public static async Task<Result> RunAsync(string workDir, IReadOnlyDictionary<string, string>? env, params string[] args)
    {
        using var p = Process.Start(StartInfo(workDir, env, args))!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        await p.WaitForExitAsync(timeout.Token);
        var result = new Result(p.ExitCode, await stdout, await stderr);
        ShouldNotHaveCrashed(result.ExitCode, result.Stdout, result.Stderr);
        return result;
    }

    private static readonly System.Text.RegularExpressions.Regex StackFrame = new(@"^\s+at \S+.*\)( in .*)?$|Unhandled exception\.|--- End of (inner exception|stack trace)",
        System.Text.RegularExpressions.RegexOptions.Multiline | System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    /// <summary>
    /// Every run of the built executable in the suite: whatever happened, the user got a message and an exit code of DESIGN
    /// §3 — never .NET's crash (exit 134, "Unhandled exception.") nor a stack trace.
    /// </summary>
    public static void ShouldNotHaveCrashed(int? exitCode, string stdout, string stderr)
    {
        if (exitCode is { } code) code.ShouldNotBe(134, $"ingot crashed:\n{stderr}");
        var trace = StackFrame.Match(stdout + "\n" + stderr);
        trace.Success.ShouldBeFalse($"ingot printed a stack trace ('{trace.Value.Trim()}'):\n{stderr}\n{stdout[..Math.Min(stdout.Length, 4000)]}");
    }

    /// <summary>Starts a run and SIGKILLs it once <paramref name="killAfterLanded"/> chunks have landed.</summary>
    public static async Task<string> RunAndKillAsync(string workDir, IReadOnlyDictionary<string, string>? env, int killAfterLanded, params string[] args)
    {
        using var p = Process.Start(StartInfo(workDir, env, args))!;
        var output = new StringBuilder();
        var landed = 0;
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        while (await p.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
        {
            output.AppendLine(line);
            if (line.Contains("\"Chunk landed\"", StringComparison.Ordinal) && ++landed >= killAfterLanded)
            {
                p.Kill(entireProcessTree: true); // SIGKILL: no cleanup runs
                break;
            }
        }
        await p.WaitForExitAsync(timeout.Token);
        ShouldNotHaveCrashed(null, output.ToString(), "");
        return output.ToString();
    }
}

/// <summary>A temp folder with a pipeline file; removed on dispose.</summary>
internal sealed class Workspace : IDisposable
{
    public Workspace()
    {
        Dir = Path.Combine(Path.GetTempPath(), "ingot-e2e-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(Dir);
    }

    public string Dir { get; }
    public string Lake => Path.Combine(Dir, "lake");
    public string Home => Path.Combine(Dir, ".ingot");

    public string Write(string name, string content)
    {
        var path = Path.Combine(Dir, name);
        File.WriteAllText(path, content);
        return path;
    }

    public IEnumerable<string> AllFiles(string root) => Directory.Exists(root) ? Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories) : [];

    public void Dispose()
    {
        try { Directory.Delete(Dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
