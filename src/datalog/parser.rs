//! Parser: tokens to the syntax tree of [`ast`](super::ast).
//!
//! Two entry points: [`parse_program`] for `.dl` files (clauses ending in `.`, no
//! `$params`) and [`parse_body`] for the `when`/`unless` bodies of remediations
//! (literals separated by commas, `$params` allowed). Both stop at the first
//! error and report the offending token's span with what was expected there.
//! Whether names are defined, arities agree or variables are safe is not decided
//! here but in [`check`](super::check).

use super::ast::{Atom, Clause, CmpOp, Const, Literal, Program, SourceId, Span, Term};
use super::error::DatalogError;
use super::lexer::{Token, TokenKind, lex};

/// Parses a whole program: facts `head.` and rules `head :- body.`; may be empty.
pub fn parse_program(text: &str, src: SourceId, base: usize) -> Result<Program, DatalogError> {
    let mut p = Parser::new(lex(text, src, base)?, false);
    let mut clauses = Vec::new();
    while p.peek() != &TokenKind::Eof {
        clauses.push(p.clause()?);
    }
    Ok(Program { clauses })
}

/// Parses a query body such as `queue_depth($service, D), D > 1000`; a trailing
/// `.` is allowed.
pub fn parse_body(text: &str, src: SourceId, base: usize) -> Result<Vec<Literal>, DatalogError> {
    let mut p = Parser::new(lex(text, src, base)?, true);
    let mut body = vec![p.literal()?];
    loop {
        match p.peek() {
            TokenKind::Comma => {
                p.bump();
                body.push(p.literal()?);
            }
            TokenKind::Dot => {
                p.bump();
                p.expect_eof("end of body")?;
                return Ok(body);
            }
            TokenKind::Eof => return Ok(body),
            _ => return Err(p.unexpected("\",\" or end of body")),
        }
    }
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    allow_params: bool,
}

impl Parser {
    fn new(tokens: Vec<Token>, allow_params: bool) -> Self {
        Parser {
            tokens,
            pos: 0,
            allow_params,
        }
    }

    fn current(&self) -> Option<&Token> {
        // The lexer always ends with Eof and `bump` never moves past it, so this
        // only falls back for an empty token list, which `lex` never returns.
        self.tokens.get(self.pos).or(self.tokens.last())
    }

    fn peek(&self) -> &TokenKind {
        self.current().map_or(&TokenKind::Eof, |t| &t.kind)
    }

    fn span(&self) -> Span {
        self.current().map_or_else(Span::default, |t| t.span)
    }

    /// Consumes the current token and returns its span.
    fn bump(&mut self) -> Span {
        let span = self.span();
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
        span
    }

    fn unexpected(&self, expected: &str) -> DatalogError {
        DatalogError::Syntax {
            expected: expected.to_owned(),
            found: self.peek().describe(),
            span: self.span(),
        }
    }

    fn expect(&mut self, kind: TokenKind, expected: &str) -> Result<Span, DatalogError> {
        if *self.peek() == kind {
            Ok(self.bump())
        } else {
            Err(self.unexpected(expected))
        }
    }

    fn expect_eof(&self, expected: &str) -> Result<(), DatalogError> {
        match self.peek() {
            TokenKind::Eof => Ok(()),
            _ => Err(self.unexpected(expected)),
        }
    }

    fn clause(&mut self) -> Result<Clause, DatalogError> {
        if !matches!(self.peek(), TokenKind::Ident(_)) {
            return Err(self.unexpected("a fact or a rule"));
        }
        let head = self.atom()?;
        let mut body = Vec::new();
        match self.peek() {
            TokenKind::Dot => {}
            TokenKind::If => {
                self.bump();
                body.push(self.literal()?);
                while *self.peek() == TokenKind::Comma {
                    self.bump();
                    body.push(self.literal()?);
                }
                if *self.peek() != TokenKind::Dot {
                    return Err(self.unexpected("\",\" or \".\""));
                }
            }
            _ => return Err(self.unexpected("\".\" or \":-\"")),
        }
        let end = self.bump();
        Ok(Clause {
            span: head.span.to(end),
            head,
            body,
        })
    }

    fn literal(&mut self) -> Result<Literal, DatalogError> {
        match self.peek() {
            TokenKind::Not => {
                let start = self.bump();
                if !matches!(self.peek(), TokenKind::Ident(_)) {
                    return Err(self.unexpected("a predicate name after \"not\""));
                }
                let atom = self.atom()?;
                Ok(Literal::Neg {
                    span: start.to(atom.span),
                    atom,
                })
            }
            TokenKind::Ident(_) => Ok(Literal::Pos(self.atom()?)),
            TokenKind::Var(_)
            | TokenKind::Param(_)
            | TokenKind::Str(_)
            | TokenKind::Int(_)
            | TokenKind::Frac(_) => self.comparison(),
            _ => Err(self.unexpected("an atom, \"not\" or a comparison")),
        }
    }

    /// `L op R` or `L =~ "regex"`; `L` is the current token.
    fn comparison(&mut self) -> Result<Literal, DatalogError> {
        let lhs = self.term()?;
        let op = match self.peek() {
            TokenKind::Eq => CmpOp::Eq,
            TokenKind::Ne => CmpOp::Ne,
            TokenKind::Lt => CmpOp::Lt,
            TokenKind::Le => CmpOp::Le,
            TokenKind::Gt => CmpOp::Gt,
            TokenKind::Ge => CmpOp::Ge,
            TokenKind::Match => {
                self.bump();
                let TokenKind::Str(pattern) = self.peek().clone() else {
                    return Err(self.unexpected("a regex string"));
                };
                let pattern_span = self.bump();
                return Ok(Literal::Regex {
                    span: lhs.span().to(pattern_span),
                    term: lhs,
                    pattern,
                    pattern_span,
                });
            }
            _ => return Err(self.unexpected("a comparison operator")),
        };
        self.bump();
        if !matches!(
            self.peek(),
            TokenKind::Var(_)
                | TokenKind::Param(_)
                | TokenKind::Str(_)
                | TokenKind::Int(_)
                | TokenKind::Frac(_)
        ) {
            return Err(self.unexpected("a variable or a constant"));
        }
        let rhs = self.term()?;
        Ok(Literal::Cmp {
            op,
            span: lhs.span().to(rhs.span()),
            lhs,
            rhs,
        })
    }

    /// `pred` or `pred(term, ...)`; the current token is the identifier.
    fn atom(&mut self) -> Result<Atom, DatalogError> {
        let TokenKind::Ident(pred) = self.peek().clone() else {
            return Err(self.unexpected("a predicate name"));
        };
        let pred_span = self.bump();
        let mut args = Vec::new();
        let mut span = pred_span;
        if *self.peek() == TokenKind::LParen {
            self.bump();
            if *self.peek() != TokenKind::RParen {
                args.push(self.term()?);
                while *self.peek() == TokenKind::Comma {
                    self.bump();
                    args.push(self.term()?);
                }
            }
            span = pred_span.to(self.expect(TokenKind::RParen, "\",\" or \")\"")?);
        }
        Ok(Atom {
            pred,
            pred_span,
            args,
            span,
        })
    }

    fn term(&mut self) -> Result<Term, DatalogError> {
        let span = self.span();
        let term = match self.peek().clone() {
            TokenKind::Var(name) => Term::Var(name, span),
            TokenKind::Wildcard => Term::Wildcard(span),
            TokenKind::Param(name) if self.allow_params => Term::Param(name, span),
            TokenKind::Param(name) => return Err(DatalogError::ParamInProgram { name, span }),
            TokenKind::Str(s) => Term::Const(Const::Str(s), span),
            TokenKind::Int(i) => Term::Const(Const::Int(i), span),
            TokenKind::Frac(x) => Term::Const(Const::Frac(x), span),
            _ => return Err(self.unexpected("a variable, a constant or \"_\"")),
        };
        self.bump();
        Ok(term)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: SourceId = SourceId(3);

    fn sp(start: usize, end: usize) -> Span {
        Span::new(SRC, start, end)
    }

    fn program_err(text: &str) -> (String, Span) {
        let e = parse_program(text, SRC, 0).unwrap_err();
        (e.to_string(), e.span())
    }

    fn body_err(text: &str) -> (String, Span) {
        let e = parse_body(text, SRC, 0).unwrap_err();
        (e.to_string(), e.span())
    }

    #[test]
    fn facts_and_rules() {
        let p = parse_program(
            "depends_on(\"api\", \"db\").\n% comment\ndepends(X, Z) :- depends_on(X, Y), depends(Y, Z).\nflag.\nempty().",
            SRC,
            0,
        )
        .unwrap();
        assert_eq!(p.clauses.len(), 4);
        let fact = &p.clauses[0];
        assert!(fact.body.is_empty());
        assert_eq!(fact.span, sp(0, 24));
        assert_eq!(fact.head.pred_span, sp(0, 10));
        assert_eq!(fact.head.span, sp(0, 23));
        assert_eq!(
            fact.head.args,
            vec![
                Term::Const(Const::Str("api".into()), sp(11, 16)),
                Term::Const(Const::Str("db".into()), sp(18, 22)),
            ]
        );
        let rule = &p.clauses[1];
        assert_eq!(rule.body.len(), 2);
        assert_eq!(rule.span, sp(35, 84));
        assert!(p.clauses[2].head.args.is_empty());
        assert_eq!(p.clauses[2].head.span, sp(85, 89));
        assert!(p.clauses[3].head.args.is_empty());
    }

    #[test]
    fn empty_program() {
        assert_eq!(parse_program("", SRC, 0).unwrap().clauses.len(), 0);
        assert_eq!(
            parse_program(" % only a comment\n", SRC, 0)
                .unwrap()
                .clauses
                .len(),
            0
        );
    }

    #[test]
    fn literal_kinds_and_spans() {
        let body = parse_body(
            r#"not p(X, _), X != -1, "a" < Y, Y =~ "ab+", q($service)"#,
            SRC,
            10,
        )
        .unwrap();
        assert_eq!(body.len(), 5);
        let Literal::Neg { atom, span } = &body[0] else {
            panic!()
        };
        assert_eq!(*span, Span::new(SRC, 10, 21));
        assert_eq!(atom.span, Span::new(SRC, 14, 21));
        assert!(matches!(atom.args[1], Term::Wildcard(_)));
        let Literal::Cmp { op, lhs, rhs, span } = &body[1] else {
            panic!()
        };
        assert_eq!(*op, CmpOp::Ne);
        assert!(matches!(lhs, Term::Var(v, _) if v == "X"));
        assert_eq!(*rhs, Term::Const(Const::Int(-1), Span::new(SRC, 28, 30)));
        assert_eq!(*span, Span::new(SRC, 23, 30));
        let Literal::Regex {
            pattern,
            pattern_span,
            span,
            ..
        } = &body[3]
        else {
            panic!()
        };
        assert_eq!(pattern, "ab+");
        assert_eq!(*pattern_span, Span::new(SRC, 46, 51));
        assert_eq!(*span, Span::new(SRC, 41, 51));
        let Literal::Pos(q) = &body[4] else { panic!() };
        assert_eq!(
            q.args,
            vec![Term::Param("service".into(), Span::new(SRC, 55, 63))]
        );
    }

    #[test]
    fn body_with_trailing_dot() {
        assert_eq!(parse_body("p(X).", SRC, 0).unwrap().len(), 1);
        assert_eq!(
            body_err("p(X). q"),
            (
                "expected end of body, found identifier \"q\"".into(),
                sp(6, 7)
            )
        );
    }

    #[test]
    fn parse_errors_point_at_the_token() {
        assert_eq!(
            program_err("p(X) :- q(X)"),
            (
                "expected \",\" or \".\", found end of input".into(),
                sp(12, 12)
            )
        );
        assert_eq!(
            program_err("p(X) q(X)."),
            (
                "expected \".\" or \":-\", found identifier \"q\"".into(),
                sp(5, 6)
            )
        );
        assert_eq!(
            program_err("p(X :- q(X)."),
            ("expected \",\" or \")\", found \":-\"".into(), sp(4, 6))
        );
        assert_eq!(
            program_err("X :- q(X)."),
            (
                "expected a fact or a rule, found variable \"X\"".into(),
                sp(0, 1)
            )
        );
        assert_eq!(
            program_err("p(X) :- X."),
            (
                "expected a comparison operator, found \".\"".into(),
                sp(9, 10)
            )
        );
        assert_eq!(
            program_err("p(X) :- q(X), not X = 1."),
            (
                "expected a predicate name after \"not\", found variable \"X\"".into(),
                sp(18, 19)
            )
        );
        assert_eq!(
            program_err("p(X) :- q(X), X =~ Y."),
            (
                "expected a regex string, found variable \"Y\"".into(),
                sp(19, 20)
            )
        );
        assert_eq!(
            program_err("p(X) :- q(X), X = _."),
            (
                "expected a variable or a constant, found wildcard \"_\"".into(),
                sp(18, 19)
            )
        );
        assert_eq!(
            program_err("p(X) :- q(X),."),
            (
                "expected an atom, \"not\" or a comparison, found \".\"".into(),
                sp(13, 14)
            )
        );
        assert_eq!(
            program_err("p(,)."),
            (
                "expected a variable, a constant or \"_\", found \",\"".into(),
                sp(2, 3)
            )
        );
        assert_eq!(
            body_err(""),
            (
                "expected an atom, \"not\" or a comparison, found end of input".into(),
                sp(0, 0)
            )
        );
        assert_eq!(
            body_err("p(X) q(X)"),
            (
                "expected \",\" or end of body, found identifier \"q\"".into(),
                sp(5, 6)
            )
        );
    }

    #[test]
    fn lexer_errors_pass_through() {
        assert_eq!(
            program_err("p(\"abc)."),
            ("unterminated string".into(), sp(2, 3))
        );
    }

    #[test]
    fn params_only_in_bodies() {
        let e = parse_program("p(X) :- q(X, $service).", SRC, 0).unwrap_err();
        assert_eq!(
            e,
            DatalogError::ParamInProgram {
                name: "service".into(),
                span: sp(13, 21)
            }
        );
        assert_eq!(
            e.to_string(),
            "parameter \"$service\" is not allowed in a Datalog program"
        );
        assert!(parse_body("q(X, $service)", SRC, 0).is_ok());
    }
}
