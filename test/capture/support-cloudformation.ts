/*
 * Just enough of CloudFormation's template evaluation to read what a template would deploy, offline:
 * parameters (with defaults), pseudo parameters, conditions, and the intrinsic functions our
 * templates use (Ref, Fn::Sub, Fn::If, Fn::Select, Fn::Split, Fn::Join, Fn::GetAtt, Fn::Equals,
 * Fn::Not, Fn::And, Fn::Or, Condition). A reference to a resource becomes `<Ref:Name>` or
 * `<GetAtt:Name.Attribute>`, since only a deployment knows those. Anything else throws, so a
 * template that starts using another function fails its test until this learns it.
 */

export interface Template {
  readonly Parameters?: Record<
    string,
    {
      readonly Default?: unknown;
      readonly AllowedPattern?: string;
      readonly MinValue?: number;
      readonly MaxValue?: number;
    }
  >;
  readonly Conditions?: Record<string, unknown>;
  readonly Resources: Record<
    string,
    { readonly Type: string; readonly Properties?: unknown; readonly [key: string]: unknown }
  >;
  readonly Outputs?: Record<string, { readonly Value: unknown }>;
}

/** Marks a value that `AWS::NoValue` removed. */
const NO_VALUE = Symbol('AWS::NoValue');

export interface Deployment {
  readonly region: string;
  readonly accountId: string;
  readonly partition: string;
  readonly parameters: Record<string, string>;
}

/** Evaluates every intrinsic function in `value` as a stack with these parameters would. */
export function evaluate(template: Template, deployment: Deployment, value: unknown): unknown {
  const parameters: Record<string, unknown> = {
    'AWS::Region': deployment.region,
    'AWS::AccountId': deployment.accountId,
    'AWS::Partition': deployment.partition,
    'AWS::StackName': 'ddb-lake-capture',
    'AWS::URLSuffix': 'amazonaws.com',
  };
  for (const [name, parameter] of Object.entries(template.Parameters ?? {})) {
    const given = deployment.parameters[name];
    if (given !== undefined) parameters[name] = given;
    else if (parameter.Default !== undefined) parameters[name] = String(parameter.Default);
    else throw new Error(`parameter ${name} has no default and no value`);
  }
  const conditions = new Map<string, boolean>();
  const condition = (name: string): boolean => {
    let known = conditions.get(name);
    if (known === undefined) {
      const definition = template.Conditions?.[name];
      if (definition === undefined) throw new Error(`no condition ${name}`);
      known = Boolean(run(definition));
      conditions.set(name, known);
    }
    return known;
  };
  const ref = (name: string): unknown => {
    if (name === 'AWS::NoValue') return NO_VALUE;
    if (name in parameters) return parameters[name];
    if (name in template.Resources) return `<Ref:${name}>`;
    throw new Error(`Ref to unknown ${name}`);
  };
  const sub = (text: string, variables: Record<string, unknown>): string =>
    text.replace(/\$\{([^}!]+)\}/g, (_, name: string) => {
      if (name in variables) return String(variables[name]);
      if (name.includes('.')) {
        const [resource, attribute] = name.split('.', 2) as [string, string];
        return `<GetAtt:${resource}.${attribute}>`;
      }
      return String(ref(name));
    });

  function run(node: unknown): unknown {
    if (Array.isArray(node)) return node.map(run).filter((element) => element !== NO_VALUE);
    if (typeof node !== 'object' || node === null) return node;
    const entries = Object.entries(node);
    if (entries.length === 1) {
      const [key, argument] = entries[0] as [string, unknown];
      const args = argument as unknown[];
      switch (key) {
        case 'Ref':
          return ref(argument as string);
        case 'Condition':
          return condition(argument as string);
        case 'Fn::GetAtt':
          return `<GetAtt:${args[0]}.${args[1]}>`;
        case 'Fn::Sub':
          return typeof argument === 'string'
            ? sub(argument, {})
            : sub(args[0] as string, run(args[1]) as Record<string, unknown>);
        case 'Fn::If':
          return condition(args[0] as string) ? run(args[1]) : run(args[2]);
        case 'Fn::Equals':
          return String(run(args[0])) === String(run(args[1]));
        case 'Fn::Not':
          return !run(args[0]);
        case 'Fn::And':
          return args.every((arg) => Boolean(run(arg)));
        case 'Fn::Or':
          return args.some((arg) => Boolean(run(arg)));
        case 'Fn::Select':
          return (run(args[1]) as unknown[])[Number(run(args[0]))];
        case 'Fn::Split':
          return String(run(args[1])).split(args[0] as string);
        case 'Fn::Join':
          return (run(args[1]) as unknown[]).join(args[0] as string);
        default:
          if (key.startsWith('Fn::')) throw new Error(`the evaluator does not know ${key}`);
      }
    }
    const result: Record<string, unknown> = {};
    for (const [key, inner] of entries) {
      const evaluated = run(inner);
      if (evaluated !== NO_VALUE) result[key] = evaluated;
    }
    return result;
  }

  return run(value);
}

/** An IAM policy statement after evaluation, with Action and Resource as lists. */
export interface Statement {
  readonly Effect: string;
  readonly Action: string[];
  readonly Resource: string[];
}

/** Every statement of every inline policy of a role, evaluated. */
export function roleStatements(template: Template, deployment: Deployment, roleName: string): Statement[] {
  const role = evaluate(template, deployment, template.Resources[roleName]?.Properties) as {
    Policies: { PolicyDocument: { Statement: { Effect: string; Action: unknown; Resource: unknown }[] } }[];
  };
  return role.Policies.flatMap((policy) =>
    policy.PolicyDocument.Statement.map((statement) => ({
      Effect: statement.Effect,
      Action: ([] as string[]).concat(statement.Action as string | string[]),
      Resource: ([] as string[]).concat(statement.Resource as string | string[]),
    })),
  );
}

/** Whether an IAM resource pattern (`*` and `?` wildcards) matches an ARN. */
export function iamMatches(pattern: string, arn: string): boolean {
  const regex = pattern
    .split('')
    .map((char) => (char === '*' ? '.*' : char === '?' ? '.' : char.replace(/[.+^${}()|[\]\\/]/g, '\\$&')))
    .join('');
  return new RegExp(`^${regex}$`).test(arn);
}
