using System.Diagnostics;
using System.Globalization;

namespace Ingot.Bench;

/// <summary>The benches' shared arithmetic over repeated measurements, and how they start the built <c>ingot</c>.</summary>
internal static class Stats
{
    /// <summary>The median (the mean of the middle two for an even count).</summary>
    public static double Median(IEnumerable<double> values)
    {
        var s = values.Order().ToList();
        return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2;
    }

    /// <summary><c>min X s, median Y s, max Z s</c>, to the millisecond.</summary>
    public static string Spread(IReadOnlyCollection<double> values) =>
        string.Create(CultureInfo.InvariantCulture, $"min {values.Min():0.000} s, median {Median(values):0.000} s, max {values.Max():0.000} s");

    /// <summary>
    /// <c>dotnet &lt;dll&gt; args…</c> in <paramref name="work"/>, output redirected, with its own <c>INGOT_HOME</c> (a fresh
    /// one per process unless <paramref name="home"/> is given), JSON logs and the given log level.
    /// </summary>
    public static ProcessStartInfo Ingot(string dll, string work, string? home, string logLevel, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { WorkingDirectory = work, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.GetFullPath(dll)); // the process runs in work: a relative path is the caller's
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["INGOT_HOME"] = home ?? Path.Combine(work, ".ingot-" + Guid.NewGuid().ToString("N")[..6]);
        psi.Environment["INGOT_LOG_FORMAT"] = "json";
        psi.Environment["INGOT_LOG_LEVEL"] = logLevel;
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        return psi;
    }
}
