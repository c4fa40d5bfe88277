namespace Ingot.Config;

/// <summary>Global settings: <c>INGOT_*</c> environment variables, then an optional <c>.env</c> file in the working folder.</summary>
public sealed record IngotSettings(string Home, string StatePath, string? LogFormat, string LogLevel, Func<string, string?> Environment)
{
    public static IngotSettings Load(string workingDirectory)
    {
        var dotenv = ReadDotEnv(Path.Combine(workingDirectory, ".env"));
        string? Env(string name)
        {
            var v = System.Environment.GetEnvironmentVariable(name);
            if (!string.IsNullOrEmpty(v)) return v;
            return dotenv.TryGetValue(name, out var d) ? d : null;
        }
        var home = Path.GetFullPath(Env("INGOT_HOME") ?? Path.Combine(workingDirectory, ".ingot"), workingDirectory);
        var state = Env("INGOT_STATE") ?? Path.Combine(home, "state.db");
        return new IngotSettings(home, state, Env("INGOT_LOG_FORMAT"), Env("INGOT_LOG_LEVEL") ?? "info", Env);
    }

    /// <summary>KEY=VALUE lines; '#' comments; optional quotes; environment variables win over the file.</summary>
    internal static Dictionary<string, string> ReadDotEnv(string path)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        if (!File.Exists(path)) return values;
        var lineNo = 0;
        foreach (var raw in File.ReadLines(path))
        {
            lineNo++;
            var line = raw.Trim();
            if (line.Length == 0 || line[0] == '#') continue;
            if (line.StartsWith("export ", StringComparison.Ordinal)) line = line[7..].TrimStart();
            var eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0) throw new ConfigException(path, lineNo, 1, "expected KEY=VALUE");
            var key = line[..eq].Trim();
            var value = line[(eq + 1)..].Trim();
            if (value.Length >= 2 && (value[0] == '"' && value[^1] == '"' || value[0] == '\'' && value[^1] == '\'')) value = value[1..^1];
            values[key] = value;
        }
        return values;
    }
}
