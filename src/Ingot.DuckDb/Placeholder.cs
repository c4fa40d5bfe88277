namespace Ingot.DuckDb; internal static class Placeholder { }
